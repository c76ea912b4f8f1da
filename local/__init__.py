"""The local deploy and the emulator harness: moto with its gaps filled (`emulator`), Terraform run
against it (`emulated`, shared by the tests, the security gate and the local deploy) and `deploy`
(`make local-up` / `make local-down`). Imported by its dotted name from the project root."""
