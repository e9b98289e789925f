"""What private networking costs: NAT gateways against VPC endpoints, per VPC (issue 18).

- `auditor.costs.prices`: the dated price table (data, with source and date per region).
- `auditor.costs.traffic`: the NAT gateway and endpoint byte counts read from CloudWatch
  (optional, read-only), as the model holds them.
- `auditor.costs.view`: findings.json's ``network_costs`` section, a pure function of the model, the
  findings, the price table and the packs' required endpoints (docs/costs.md).

Money is `decimal.Decimal` throughout and is rounded to the cent once, when written.
"""
