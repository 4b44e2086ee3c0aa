"""Prices for us-east-2 (Ohio), on-demand, USD, with the usage assumptions the estimate needs.

Source: the AWS public pricing pages for each service, us-east-2, as listed on
PRICES_DATE (Amazon VPC (NAT gateway, public IPv4), Elastic Load Balancing,
AWS Fargate, Amazon RDS for PostgreSQL, Amazon ECR, Amazon CloudWatch, AWS
Secrets Manager, EC2 data transfer). Machines here cannot reach the AWS Price
List API; to refresh, compare each line with the page named beside it and
update PRICES_DATE.
"""

from typing import Any

PRICES_DATE = "2025-11-15"
REGION = "us-east-2"
HOURS_PER_MONTH = 730

PRICES: dict[str, Any] = {
    # Amazon VPC pricing: NAT gateway
    "nat_gateway_hour": 0.045,
    "nat_gateway_gb": 0.045,
    # Amazon VPC pricing: public IPv4 address (every EIP and every ALB node)
    "public_ipv4_hour": 0.005,
    # Elastic Load Balancing pricing: Application Load Balancer
    "alb_hour": 0.0225,
    "alb_lcu_hour": 0.008,
    # AWS Fargate pricing, Linux
    "fargate_vcpu_hour": {"ARM64": 0.03238, "X86_64": 0.04048},
    "fargate_gb_hour": {"ARM64": 0.00356, "X86_64": 0.004445},
    # AWS Fargate Spot pricing: a discount on the on-demand rate that varies; about 70% is typical
    "fargate_spot_discount": 0.70,
    # Amazon RDS for PostgreSQL pricing: Single-AZ on-demand instance hours (Multi-AZ: twice)
    "rds_instance_hour": {"db.t4g.micro": 0.016, "db.t4g.small": 0.032, "db.t4g.medium": 0.065,
                          "db.t4g.large": 0.129},
    # Amazon RDS pricing: gp3 storage, Single-AZ (Multi-AZ: twice); backups free up to the storage size
    "rds_gp3_gb_month": 0.115,
    # Amazon ECR pricing: storage
    "ecr_gb_month": 0.10,
    # Amazon CloudWatch pricing
    "logs_ingest_gb": 0.50,
    "logs_storage_gb_month": 0.03,
    "metric_month": 0.30,          # custom metrics, first 10,000 (Container Insights is billed this way)
    "alarm_month": 0.10,           # standard resolution
    "dashboard_month": 3.00,       # beyond the first 3 per account
    "free_dashboards": 3,
    # Amazon S3 pricing: Standard storage (load balancer access logs, kept ACCESS_LOG_DAYS)
    "s3_gb_month": 0.023,
    # AWS Certificate Manager: public certificates are free; Amazon Route 53: alias queries to an ALB are free
    # AWS Secrets Manager pricing
    "secret_month": 0.40,
    # EC2 data transfer out to the internet: first 100 GB a month free (account-wide)
    "data_out_gb": 0.09,
    "data_out_free_gb": 100,
}

# Usage assumptions for a small deployment like the plan's; change them here, the estimate shows them.
USAGE: dict[str, Any] = {
    "nat_gb": 20,                     # image pulls, price API calls, Secrets Manager
    "alb_lcu": 0.5,                   # average LCUs for light traffic
    "ecr_gb": 10,                     # the plan's figure: 10 tagged images
    "logs_gb": 3,                     # container and postgresql logs ingested a month
    "container_insights_metrics": 30,  # about 8 per cluster and 11 per service
    "data_out_gb": 50,
    "access_logs_gb": 2,              # load balancer access logs kept (light traffic, 90 days)
}
