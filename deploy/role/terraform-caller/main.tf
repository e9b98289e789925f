# The private network auditor: the role the auditor runs as.
# Generated from the auditor's call catalogue by `auditor permissions --format terraform --caller`; do not edit by hand (regenerate instead).

terraform {
  required_version = ">= 1.3"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 4.0"
    }
  }
}

data "aws_partition" "current" {}

data "aws_iam_policy_document" "trust" {
  statement {
    sid     = "TrustTheAuditor"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = [var.trusted_principal]
    }
    dynamic "condition" {
      for_each = var.external_id == "" ? [] : [var.external_id]
      content {
        test     = "StringEquals"
        variable = "sts:ExternalId"
        values   = [condition.value]
      }
    }
  }
}

resource "aws_iam_policy" "caller" {
  name        = "${var.caller_role_name}Policy"
  description = "What the private network auditor needs where it runs."
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "AssumeAuditRoles"
        Effect = "Allow"
        Action = [
          "sts:AssumeRole",
        ]
        Resource = "arn:${data.aws_partition.current.partition}:iam::*:role/${var.audit_role_name}"
      },
      {
        Sid    = "DiscoverOrganizationAccounts"
        Effect = "Allow"
        Action = [
          "organizations:ListAccounts",
          "organizations:ListAccountsForParent",
          "organizations:ListOrganizationalUnitsForParent",
          "organizations:ListTagsForResource",
        ]
        Resource = "*"
      },
    ]
  })
}

resource "aws_iam_role" "caller" {
  name                 = var.caller_role_name
  description          = "The role the private network auditor runs as."
  max_session_duration = var.max_session_duration
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  tags                 = var.tags
}

resource "aws_iam_role_policy_attachment" "caller" {
  role       = aws_iam_role.caller.name
  policy_arn = aws_iam_policy.caller.arn
}
