"""Type tokens of the resources the rules look at (pulumi-aws 7.x; `aws:alb/*` are aliases)."""

from __future__ import annotations

RDS_INSTANCE = ("aws:rds/instance:Instance",)
RDS_PARAMETER_GROUP = ("aws:rds/parameterGroup:ParameterGroup",)

BUCKET = ("aws:s3/bucket:Bucket",)
BUCKET_ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
)
BUCKET_PUBLIC_ACCESS_BLOCK = ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",)
BUCKET_VERSIONING = ("aws:s3/bucketVersioning:BucketVersioning",)
BUCKET_POLICY = ("aws:s3/bucketPolicy:BucketPolicy",)
BUCKET_LOGGING = ("aws:s3/bucketLogging:BucketLogging",)

SECURITY_GROUP = ("aws:ec2/securityGroup:SecurityGroup",)
SECURITY_GROUP_RULE = ("aws:ec2/securityGroupRule:SecurityGroupRule",)
INGRESS_RULE = ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",)
DEFAULT_SECURITY_GROUP = ("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",)
VPC = ("aws:ec2/vpc:Vpc",)
FLOW_LOG = ("aws:ec2/flowLog:FlowLog",)

LOAD_BALANCER = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
LISTENER = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
WEB_ACL_ASSOCIATION = ("aws:wafv2/webAclAssociation:WebAclAssociation",)

KMS_KEY = ("aws:kms/key:Key",)
LOG_GROUP = ("aws:cloudwatch/logGroup:LogGroup",)
ECR_REPOSITORY = ("aws:ecr/repository:Repository",)
BACKUP_VAULT = ("aws:backup/vault:Vault",)
BACKUP_PLAN = ("aws:backup/plan:Plan",)
BACKUP_SELECTION = ("aws:backup/selection:Selection",)
SNS_TOPIC = ("aws:sns/topic:Topic",)
PROMETHEUS_WORKSPACE = ("aws:amp/workspace:Workspace",)
SQS_QUEUE = ("aws:sqs/queue:Queue",)
SECRET = ("aws:secretsmanager/secret:Secret",)

ECS_CLUSTER = ("aws:ecs/cluster:Cluster",)
ECS_SERVICE = ("aws:ecs/service:Service",)
ECS_TASK_DEFINITION = ("aws:ecs/taskDefinition:TaskDefinition",)

IAM_POLICY_DOCUMENTS = (
    "aws:iam/policy:Policy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
    "aws:iam/role:Role",
)
IAM_ROLE = ("aws:iam/role:Role",)
IAM_ATTACHMENTS = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
)

COGNITO_USER_POOL = ("aws:cognito/userPool:UserPool",)
