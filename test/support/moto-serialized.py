"""moto_server with DynamoDB writes serialized and transactions isolated.

moto's DynamoDB backend has no lock: TransactWriteItems deep-copies the table, applies the
items one by one and restores the copy when a condition fails, while other request threads
run. Two transactions with the same ConditionExpression can then both succeed, and a failed
transaction's rollback can undo another request's committed write. Real DynamoDB (and
DynamoDB Local behind LocalStack) serializes conflicting transactions, which the mail
index's UID allocation relies on (ARCHITECTURE.md, invariant 3).

1. One lock around every DynamoDB *write* request restores isolation between writers.
   Reads stay concurrent (they may observe a transaction's items one by one, which readers
   of the mail index tolerate: they read uidNext first), so moto's slow Query does not
   starve the writers. S3 and SQS (long polls) are untouched.
2. Under that lock a transaction's rollback only needs the items it touches: the deep copy
   of the whole table (O(table size) per transaction, the bulk of moto's time) is replaced
   by copies of those items. If moto's internals differ from what this expects, step 2 is
   skipped and moto's own rollback is used.

Arguments are moto_server's (-H host -p port).
"""

import copy
import sys
import threading

from moto import server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

_lock = threading.Lock()
_dispatch = DomainDispatcherApplication.__call__
_WRITES = {
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactWriteItems",
    "TransactGetItems",
    "ExecuteStatement",
    "ExecuteTransaction",
    "BatchExecuteStatement",
    "CreateTable",
    "DeleteTable",
}


def _serialized(self, environ, start_response):  # type: ignore[no-untyped-def]
    service, _, operation = environ.get("HTTP_X_AMZ_TARGET", "").partition(".")
    if service.startswith("DynamoDB_") and operation in _WRITES:
        with _lock:
            # Run the request and materialise its response inside the lock.
            return list(_dispatch(self, environ, start_response))
    return _dispatch(self, environ, start_response)


DomainDispatcherApplication.__call__ = _serialized  # type: ignore[method-assign]


def _install_item_level_rollback() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    tls = threading.local()

    def table_deepcopy(self, memo):  # type: ignore[no-untyped-def]
        # Inside a transaction moto's "backup" is the live table (its rollback is a no-op);
        # everywhere else a normal deep copy.
        if getattr(tls, "in_transaction", False):
            return self
        result = self.__class__.__new__(self.__class__)
        memo[id(self)] = result
        for k, v in self.__dict__.items():
            setattr(result, k, copy.deepcopy(v, memo))
        return result

    def key_of(table, op_type, op):  # type: ignore[no-untyped-def]
        attrs = op["Item"] if op_type == "Put" else op["Key"]
        h = DynamoType(attrs[table.hash_key_attr])
        r = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
        return h, r

    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):  # type: ignore[no-untyped-def]
        saved = []
        try:
            for entry in transact_items:
                op_type, op = next(iter(entry.items()))
                table = self.tables.get(op.get("TableName"))
                if table is None:
                    continue
                h, r = key_of(table, op_type, op)
                bucket = table.items.get(h)
                current = (bucket.get(r) if isinstance(bucket, dict) else None) if r is not None else bucket
                saved.append((table, h, r, copy.deepcopy(current)))
        except Exception:
            return original(self, transact_items)  # let moto validate and report
        tls.in_transaction = True
        try:
            return original(self, transact_items)
        except BaseException:
            for table, h, r, item in reversed(saved):
                if r is None:
                    if item is None:
                        table.items.pop(h, None)
                    else:
                        table.items[h] = item
                else:
                    if item is None:
                        table.items.get(h, {}).pop(r, None)
                    else:
                        table.items[h][r] = item
            raise
        finally:
            tls.in_transaction = False

    Table.__deepcopy__ = table_deepcopy  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


try:
    _install_item_level_rollback()
except Exception as err:  # pragma: no cover - depends on the moto version
    print(f"moto-serialized: item-level rollback not installed ({err}); using moto's", file=sys.stderr)

if __name__ == "__main__":
    server.main()
