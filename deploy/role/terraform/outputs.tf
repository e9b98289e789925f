# The private network auditor: the auditor's read-only role in an audited account.
# Generated from the auditor's call catalogue by `auditor permissions --format terraform`; do not edit by hand (regenerate instead).

output "role_arn" {
  description = "ARN of the read-only role (role_arn in the audit config)."
  value       = aws_iam_role.read_only.arn
}

output "role_name" {
  description = "Name of the read-only role (organization_discovery.role_name)."
  value       = aws_iam_role.read_only.name
}

output "policy_arn" {
  description = "ARN of the read-only managed policy."
  value       = aws_iam_policy.read_only.arn
}
