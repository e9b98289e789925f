"""Collection: the only layer that talks to AWS (and the only one that imports boto3).

Everything here is read-only by construction (see `guard`). The unit of work is one
(account, region) task; `runner.collect` plans and runs them and hands every response
page, as it came, to a snapshot writer.
"""
