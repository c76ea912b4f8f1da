"""Store2018 on AWS ECS Fargate: the project's CDKTF constructs.

The values users edit: `environments.py` (project-wide values and the environments table) and
`catalog.py` (the services); their types and validation: `settings.py` (with `checks.py`); loading
and reporting mistakes: `loading.py`. The constructs: `workspace` (the typed per-workspace values
and resource names), `network`, `load_balancer`, `cluster`, `service` (one Fargate service),
`stack` (wires them with the provider and the S3 backend), `state_bucket` (the bootstrap stack),
`rules` (our security rules), `app` (synthesis, all or nothing).

Importing this package, the settings or the catalog starts nothing: `main.py` calls
`toolchain.start()` before anything imports cdktf.
"""
