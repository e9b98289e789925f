"""Seeding what runs in (or next to) the networks: flow logs, EKS, RDS, load balancers,
Lambda, and the region's VPC Block Public Access settings.

Known moto gaps, kept in mind by whoever reads the collected evidence (the estate and
seeder do not work around them):

* EKS DescribeCluster has no ``resourcesVpcConfig.vpcId``; the cluster's subnets are
  there, so the VPC follows from them.
* Lambda's ``VpcConfig.VpcId`` is always the constant ``vpc-123abc`` in moto; again the
  subnet ids are right and identify the VPC.
* Block Public Access is served by this project's moto extension
  (`auditor.emulate.moto_ext`), set here through the API like everything else.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any
from collections.abc import Mapping

from auditor.emulate.seed_context import RegionContext

Spec = Mapping[str, Any]
LAMBDA_ROLE = "estate-lambda-execution"
EKS_ROLE = "estate-eks-cluster"
FLOW_LOGS_ROLE = "estate-flow-logs"


def _lambda_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return {'ok': True}\n")
    return buffer.getvalue()


def _flow_logs(ctx: RegionContext, vpc: Spec) -> None:
    spec = vpc["flow_logs"]
    args: dict[str, Any] = {"ResourceIds": [ctx.get("vpc", vpc["name"])], "ResourceType": "VPC",
                            "TrafficType": spec["traffic"],
                            "TagSpecifications": ctx.tag_spec("vpc-flow-log", f"{vpc['name']}-flow-logs")}
    if spec.get("destination", "cloud-watch-logs") == "s3":
        bucket = f"estate-flow-logs-{ctx.account_id}-{ctx.region}"
        if (ctx.account_id, ctx.region, "s3_bucket", bucket) not in ctx.ids:
            extra = {} if ctx.region == "us-east-1" else {
                "CreateBucketConfiguration": {"LocationConstraint": ctx.region}}
            ctx.client("s3").create_bucket(Bucket=bucket, **extra)
            ctx.put("s3_bucket", bucket, f"arn:aws:s3:::{bucket}")
        # A per-VPC key prefix (arn:aws:s3:::bucket/prefix/) is valid in AWS but moto then
        # looks for a bucket named "bucket/prefix/": deliver to the bucket root instead.
        args.update(LogDestinationType="s3", LogDestination=f"arn:aws:s3:::{bucket}")
    else:
        group = f"/estate/{vpc['name']}/flow-logs"
        ctx.client("logs").create_log_group(logGroupName=group)
        args.update(LogDestinationType="cloud-watch-logs", LogGroupName=group,
                    DeliverLogsPermissionArn=ctx.role(FLOW_LOGS_ROLE, "vpc-flow-logs.amazonaws.com"))
    made = ctx.ec2.create_flow_logs(**args)
    if made.get("Unsuccessful") or not made.get("FlowLogIds"):
        raise RuntimeError(f"moto refused the flow log of VPC {vpc['name']}: {made.get('Unsuccessful')}")
    ctx.put("flow_log", vpc["name"], made["FlowLogIds"][0])


def _lambda(ctx: RegionContext, function: Spec, zipped: bytes) -> None:
    args: dict[str, Any] = {"FunctionName": function["name"], "Runtime": "python3.12", "Handler": "index.handler",
                            "Role": ctx.role(LAMBDA_ROLE, "lambda.amazonaws.com"), "Code": {"ZipFile": zipped},
                            "Tags": {"Name": function["name"], "estate": ctx.estate_name}}
    if function.get("subnets"):
        # moto reports VpcConfig.VpcId as the constant "vpc-123abc"; the subnet ids are real.
        args["VpcConfig"] = {"SubnetIds": [ctx.get("subnet", s) for s in function["subnets"]],
                             "SecurityGroupIds": [ctx.get("security_group", g) for g in function["security_groups"]]}
    ctx.put("lambda_function", function["name"], ctx.client("lambda").create_function(**args)["FunctionArn"])


def seed_workloads(ctx: RegionContext) -> None:
    """Flow logs and workloads of every VPC in the region, then VPC-less Lambda functions."""
    zipped = _lambda_zip()
    for vpc in ctx.spec.vpcs():
        if "flow_logs" in vpc:
            _flow_logs(ctx, vpc)
        for cluster in vpc.get("eks_clusters", []):
            # moto's DescribeCluster omits resourcesVpcConfig.vpcId; subnets identify the VPC.
            config = {"subnetIds": [ctx.get("subnet", s) for s in cluster["subnets"]],
                      "securityGroupIds": [ctx.get("security_group", g) for g in cluster.get("security_groups", [])],
                      "endpointPublicAccess": cluster.get("public_access", True),  # AWS's defaults
                      "endpointPrivateAccess": cluster.get("private_access", False)}
            ctx.put("eks_cluster", cluster["name"], ctx.client("eks").create_cluster(
                name=cluster["name"], roleArn=ctx.role(EKS_ROLE, "eks.amazonaws.com"), resourcesVpcConfig=config,
                tags={"Name": cluster["name"], "estate": ctx.estate_name})["cluster"]["arn"])
        for db in vpc.get("rds_instances", []):
            rds, group = ctx.client("rds"), f"{db['name']}-subnets"
            rds.create_db_subnet_group(DBSubnetGroupName=group, DBSubnetGroupDescription=f"subnets of {db['name']}",
                                       SubnetIds=[ctx.get("subnet", s) for s in db["subnets"]])
            ctx.put("db_subnet_group", group, group)
            made = rds.create_db_instance(
                DBInstanceIdentifier=db["name"], DBInstanceClass="db.t3.micro", Engine=db.get("engine", "postgres"),
                MasterUsername="estateadmin", MasterUserPassword="emulated-not-a-secret", AllocatedStorage=20,
                DBSubnetGroupName=group, PubliclyAccessible=db.get("publicly_accessible", False),
                VpcSecurityGroupIds=[ctx.get("security_group", g) for g in db.get("security_groups", [])],
                Tags=ctx.tags(db["name"]))
            ctx.put("rds_instance", db["name"], made["DBInstance"]["DBInstanceArn"])
        for lb in vpc.get("load_balancers", []):
            args: dict[str, Any] = {"Name": lb["name"], "Type": lb["type"], "Scheme": lb["scheme"],
                                    "Subnets": [ctx.get("subnet", s) for s in lb["subnets"]], "Tags": ctx.tags(lb["name"])}
            if lb.get("security_groups"):
                args["SecurityGroups"] = [ctx.get("security_group", g) for g in lb["security_groups"]]
            ctx.put("load_balancer", lb["name"],
                    ctx.client("elbv2").create_load_balancer(**args)["LoadBalancers"][0]["LoadBalancerArn"])
        for function in vpc.get("lambda_functions", []):
            _lambda(ctx, function, zipped)
    for function in ctx.spec.spec.get("lambda_functions", []):
        _lambda(ctx, function, zipped)


def seed_block_public_access(ctx: RegionContext) -> None:
    """The region's BPA mode and exclusions (through the emulator's moto extension)."""
    bpa = ctx.spec.spec.get("block_public_access")
    if not bpa:
        return  # never turned on: the extension reports AWS's default (off)
    ctx.ec2.modify_vpc_block_public_access_options(InternetGatewayBlockMode=bpa["mode"])
    for exclusion in bpa.get("exclusions", []):
        kind = "vpc" if "vpc" in exclusion else "subnet"
        label = f"{kind}:{exclusion[kind]}"
        target = {"VpcId": ctx.get("vpc", exclusion[kind])} if kind == "vpc" else {
            "SubnetId": ctx.get("subnet", exclusion[kind])}
        made = ctx.ec2.create_vpc_block_public_access_exclusion(
            InternetGatewayExclusionMode=exclusion["mode"], **target,
            TagSpecifications=ctx.tag_spec("vpc-block-public-access-exclusion", label))
        ctx.put("bpa_exclusion", label, made["VpcBlockPublicAccessExclusion"]["ExclusionId"])
