"""The names by which the twin's actors find each other in Ray: one namespace, one name each."""

NAMESPACE = "mealtwin"
STATE_ACTOR = "state-twin"
BROKER_ACTOR = "stream-broker"
ACCESS_ACTOR = "access-state"


def shard_name(k: int) -> str:
    return f"shard-{k}"
