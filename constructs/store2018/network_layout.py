"""How the network cuts the VPC's range into subnets. Pure (no cdktf), so that the settings'
validation can check a VPC range against it; `network.py` builds the subnets from it.

As in the course: private subnet i = cidrsubnet(vpc, NEWBITS, i), public subnet
i = cidrsubnet(vpc, NEWBITS, az_count + i).
"""

from __future__ import annotations

# Each subnet is the VPC's prefix plus NEWBITS: a /16 VPC gets /24 subnets.
NEWBITS = 8
# AWS accepts VPCs of /16 to /28 and subnets of at least /28.
LARGEST_VPC_PREFIX = 16
SMALLEST_SUBNET_PREFIX = 28
SMALLEST_VPC_PREFIX = SMALLEST_SUBNET_PREFIX - NEWBITS
# No region offers one account more than six availability zones; a load balancer needs two.
MIN_AZ_COUNT = 2
MAX_AZ_COUNT = 6


def private_netnum(index: int) -> int:
    return index


def public_netnum(index: int, az_count: int) -> int:
    return az_count + index
