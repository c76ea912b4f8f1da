"""What must happen before cdktf is imported, since importing it starts jsii's Node kernel:
choose the Node.js the kernel runs on, and load only the provider bindings the stack uses."""

from store2018 import jsii_node, provider_import

jsii_node.select_node()
provider_import.install()
