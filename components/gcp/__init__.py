"""Google Cloud components of the awaterra stack: one module per ComponentResource.

Type tokens are `awaterra:gcp:<Type>`. Like the AWS components, none of them reads config: the
caller passes a frozen args dataclass whose defaults are the secure (production) choice.
"""
