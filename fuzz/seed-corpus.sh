#!/usr/bin/env bash
# Seeds fuzz/corpus/ (gitignored): every AdmissionRequest in
# test_data/requests/ wrapped as a `validate` payload, under several
# settings, and a few settings documents for `validate_settings`.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/validate corpus/validate_settings corpus/yaml11

settings=(
  '{}'
  'null'
  '{"serviceSelectorValues":"reject","daemonSetFields":"warn"}'
  '{"labelMapValues":"reject","serviceSelectorValues":"off"}'
  '{"templateLabels":"warn","templateLabelsKinds":["Job","ReplicationController"],"checkLastAppliedConfiguration":false}'
)
for request in ../test_data/requests/*.json; do
  name=$(basename "$request" .json)
  # One line, runs of blanks squeezed: fewer bytes for the fuzzer to mutate.
  body=$(tr -s ' \n' ' ' < "$request")
  for i in "${!settings[@]}"; do
    printf '{"request":%s,"settings":%s}' "$body" "${settings[$i]}" \
      > "corpus/validate/seed-$name-$i"
  done
  printf '{"request":%s}' "$body" > "corpus/validate/seed-$name-none"
done

i=0
for document in "${settings[@]}" \
  '{"daemonSetFields":"reject","checkLastAppliedConfiguration":true,"templateLabels":"reject","templateLabelsKinds":["DaemonSet","Deployment","ReplicaSet","StatefulSet","ReplicationController","Job"],"serviceSelectorValues":"mutate"}' \
  '{"daemonSetFields":"block"}' '{"templateLabelsKinds":["Deployment","Pod"]}' \
  '{"replicas":"reject"}' '[]' ''; do
  printf '%s' "$document" > "corpus/validate_settings/seed-$i"
  i=$((i + 1))
done
echo "corpus: $(ls corpus/validate | wc -l) validate and $(ls corpus/validate_settings | wc -l) validate_settings inputs"

# The YAML reader: the manifests users write.
for manifest in ../test_data/manifests/*.yaml ../cli/tests/data/manifests/*.yaml ../cli/tests/data/manifests/*/*.yaml; do
  cp "$manifest" "corpus/yaml11/seed-$(basename "$(dirname "$manifest")")-$(basename "$manifest")"
done
