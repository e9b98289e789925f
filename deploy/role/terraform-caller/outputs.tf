# The private network auditor: the role the auditor runs as.
# Generated from the auditor's call catalogue by `auditor permissions --format terraform --caller`; do not edit by hand (regenerate instead).

output "caller_role_arn" {
  description = "ARN of the auditor's role (the read-only role's trusted_principal)."
  value       = aws_iam_role.caller.arn
}

output "caller_policy_arn" {
  description = "ARN of the managed policy, to attach to another role."
  value       = aws_iam_policy.caller.arn
}
