"""Terraform plans and CloudFormation templates as a second model source (docs/plans.md).

`auditor.iac.base` is the contract; `auditor.iac.terraform` and `auditor.iac.cloudformation`
read the two formats, `auditor.iac.load` tells them apart, and `auditor.iac.overlay` lays a
plan over a collected snapshot.
"""
