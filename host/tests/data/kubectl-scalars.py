import json, subprocess, sys
spellings = ["y","Y","yes","Yes","YES","on","On","ON","true","True","TRUE","n","N","no","No","NO","off","Off","OFF","false","False","FALSE",
 "tRUE","yEs","oN","~","null","Null","NULL","","42","+42","-42","0x2A","-0x2A","0X2a","052","0o52","0b101010","1_000","08","09","0","-0","007",
 "1.5","1.0","1e3","1.5e-3",".5","-.5","+1.5","1.","1_0.5","1e400","18446744073709551615","9223372036854775807","9223372036854775808",
 "1:30","2001-12-14","0x","0xZZ",".","+","1e","e3","0b2","12abc","1.2.3","v1.0","81111e1","1.10","0.1","1e6","abc","a b","x-y_z.w",
 "'yes'","\"on\"","'1.0'","\"0x2A\"","'~'","\"\"","!!str yes","!!str 42","0xffffffffffffffff","-9223372036854775808","1e-7","6.02e23","0.0","-0.0"]
noKey={"~","null","Null","NULL","","18446744073709551615","0xffffffffffffffff","9223372036854775808"}
lines = ["apiVersion: v1","kind: ConfigMap","metadata:","  name: table","values:"]
for i,s in enumerate(spellings):
    lines.append(f"  v{i:03d}: {s}" if s!="" else f"  v{i:03d}:")
keyed=[(i,s) for i,s in enumerate(spellings) if s not in noKey and not s.startswith("!!")]
# keys that collide after resolution would merge: give each key its own map
lines.append("keys:")
for i,s in keyed:
    lines.append(f"  k{i:03d}: {{{s}: x}}")
text="\n".join(lines)+"\n"
open("/tmp/table.yaml","w").write(text)
out=subprocess.run(["kubectl","label","--local","-f","/tmp/table.yaml","-o","json","tmp=1"],capture_output=True,text=True)
if out.returncode: print(out.stderr); sys.exit(1)
obj=json.loads(out.stdout)
rows=[]
for i,s in enumerate(spellings):
    row={"spelling":s,"value":obj["values"][f"v{i:03d}"]}
    k=obj["keys"].get(f"k{i:03d}")
    if k is not None: row["key"]=list(k.keys())[0]
    rows.append(row)
import os; os.chdir(os.path.dirname(os.path.abspath(__file__)))
json.dump({"comment":"kubectl's reading of each scalar spelling, as a value and as a key (kubectl label --local -o json, kubectl 1.32); regenerate with host/tests/data/kubectl-scalars.py","rows":rows},open("kubectl-scalars.json","w"),indent=1)
print(len(rows))
