#!/usr/bin/env bash
# Terraform, its offline AWS provider mirror and moto_server for the tests
# in infra/terraform. None of them can be installed from the sources these
# machines reach (Terraform is not packaged by Debian, the provider comes
# from registry.terraform.io, moto from PyPI): the machine image provides
# them. This script only checks, and says what is missing; the tests then
# skip locally and fail under CI with the same message.
set -euo pipefail
missing=()
command -v terraform >/dev/null 2>&1 || missing+=("terraform (>= 1.5; the image has 1.11 in /usr/local/bin)")
[ -d /opt/tf-plugins/registry.terraform.io/hashicorp/aws ] || missing+=("the AWS provider mirror in /opt/tf-plugins (terraform providers mirror /opt/tf-plugins)")
command -v moto_server >/dev/null 2>&1 || missing+=("moto_server (pip install 'moto[server]')")
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: missing for infra/terraform tests:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 0
fi
echo "deps: terraform $(terraform version -json 2>/dev/null | sed -n 's/.*"terraform_version": *"\([^"]*\)".*/\1/p'), moto_server and the AWS provider mirror are present" >&2
