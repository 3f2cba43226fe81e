"""Security and operations rules for the awaterra stacks: one rule set, two runners.

`policy.rules.RULES` is the rule registry (pure Python: no Pulumi import). `policy.engine`
runs it over an offline recording (`make plan`, the tests); `policy.crossguard` wraps the same
rules as a Pulumi CrossGuard pack (`pulumi preview --policy-pack policy`).
"""
