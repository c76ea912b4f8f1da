// The peer floor: a minimal CDKTF program in plain JavaScript (no ts-node, no compile step),
// requiring cdktf and @cdktf/provider-aws the ordinary way. Run: node main.js <outdir>
const { App, TerraformStack, S3Backend } = require("cdktf");
const aws = require("@cdktf/provider-aws");

const app = new App({ outdir: process.argv[2] || "cdktf.out" });
const stack = new TerraformStack(app, "floor");
new S3Backend(stack, { bucket: "floor-state", key: "floor.tfstate", region: "us-west-2", encrypt: true });
new aws.provider.AwsProvider(stack, "aws", { region: "us-west-2" });
const vpc = new aws.vpc.Vpc(stack, "vpc", { cidrBlock: "10.0.0.0/16", enableDnsHostnames: true });
for (let i = 0; i < 4; i++) {
  new aws.subnet.Subnet(stack, `subnet_${i}`, { vpcId: vpc.id, cidrBlock: `10.0.${i}.0/24` });
}
new aws.ecsCluster.EcsCluster(stack, "cluster", { name: "floor" });
app.synth();
