"""Amazon Web Services components of the awaterra stack: one module per ComponentResource.

`stack.py` composes them into the whole backend (network, database, bucket, container service,
edge, DNS and TLS, authentication, backups, monitoring). Type tokens keep their historical
`awaterra:<module>:<Type>` form so existing stacks see no replacement. None of the components
reads config: the caller passes a frozen args dataclass whose defaults are the secure
(production) choice.
"""
