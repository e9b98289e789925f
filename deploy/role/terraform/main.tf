# The private network auditor: the auditor's read-only role in an audited account.
# Generated from the auditor's call catalogue by `auditor permissions --format terraform`; do not edit by hand (regenerate instead).

terraform {
  required_version = ">= 1.3"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 4.0"
    }
  }
}

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

resource "aws_iam_role" "read_only" {
  name                 = var.role_name
  description          = "Read-only access for the private network auditor: exactly the calls of its catalogue."
  max_session_duration = var.max_session_duration
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  tags                 = var.tags
}

resource "aws_iam_policy" "read_only" {
  name        = "${var.role_name}Policy"
  description = "The calls of the private network auditor's catalogue, nothing else."
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "PrivateNetworkAuditorReadOnly"
        Effect = "Allow"
        Action = [
          "cloudwatch:GetMetricData",
          "ec2:DescribeAddresses",
          "ec2:DescribeCarrierGateways",
          "ec2:DescribeEgressOnlyInternetGateways",
          "ec2:DescribeFlowLogs",
          "ec2:DescribeInstances",
          "ec2:DescribeInternetGateways",
          "ec2:DescribeManagedPrefixLists",
          "ec2:DescribeNatGateways",
          "ec2:DescribeNetworkAcls",
          "ec2:DescribeNetworkInterfaces",
          "ec2:DescribeRegions",
          "ec2:DescribeRouteTables",
          "ec2:DescribeSecurityGroupRules",
          "ec2:DescribeSecurityGroups",
          "ec2:DescribeSubnets",
          "ec2:DescribeTransitGatewayAttachments",
          "ec2:DescribeTransitGatewayRouteTables",
          "ec2:DescribeTransitGatewayVpcAttachments",
          "ec2:DescribeTransitGateways",
          "ec2:DescribeVpcAttribute",
          "ec2:DescribeVpcBlockPublicAccessExclusions",
          "ec2:DescribeVpcBlockPublicAccessOptions",
          "ec2:DescribeVpcEndpointServices",
          "ec2:DescribeVpcEndpoints",
          "ec2:DescribeVpcPeeringConnections",
          "ec2:DescribeVpcs",
          "ec2:DescribeVpnGateways",
          "ec2:GetManagedPrefixListEntries",
          "ec2:GetTransitGatewayRouteTableAssociations",
          "ec2:GetTransitGatewayRouteTablePropagations",
          "ec2:SearchTransitGatewayRoutes",
          "eks:DescribeCluster",
          "eks:ListClusters",
          "elasticloadbalancing:DescribeLoadBalancers",
          "lambda:ListFunctions",
          "rds:DescribeDBInstances",
        ]
        Resource = "*"
      },
    ]
  })
}

resource "aws_iam_role_policy_attachment" "read_only" {
  role       = aws_iam_role.read_only.name
  policy_arn = aws_iam_policy.read_only.arn
}
