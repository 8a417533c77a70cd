using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;

namespace SnicRuntime.Management.Store;

/// <summary>Compare-and-swap: our compares and operations, as etcd's <c>Txn</c>.</summary>
public sealed partial class EtcdStateStore
{
    public Task<TxnResult> Txn(IReadOnlyList<StoreCompare> compares, IReadOnlyList<StoreOp> success, IReadOnlyList<StoreOp>? failure = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(compares);
        ArgumentNullException.ThrowIfNull(success);
        var request = new TxnRequest();
        request.Compare.AddRange(compares.Select(Compare));
        request.Success.AddRange(success.Select(Op));
        request.Failure.AddRange((failure ?? []).Select(Op));
        StoreOp? leased = success.Concat(failure ?? []).FirstOrDefault(o => o.Lease != 0);
        return Call("apply a transaction", false, async (c, o) =>
        {
            TxnResponse r = await new KV.KVClient(c).TxnAsync(request, o);
            return new TxnResult(r.Succeeded, r.Header.Revision);
        }, cancel, leased?.Lease ?? 0, leased?.Key);
    }

    private Compare Compare(StoreCompare c)
    {
        var compare = new Compare
        {
            Key = Key(c.Key),
            Result = c.Op switch
            {
                CompareOp.Equal => Etcdserverpb.Compare.Types.CompareResult.Equal,
                CompareOp.NotEqual => Etcdserverpb.Compare.Types.CompareResult.NotEqual,
                CompareOp.Less => Etcdserverpb.Compare.Types.CompareResult.Less,
                _ => Etcdserverpb.Compare.Types.CompareResult.Greater,
            },
        };
        switch (c.Target)
        {
            case CompareTarget.Version:
                compare.Target = Etcdserverpb.Compare.Types.CompareTarget.Version;
                compare.Version = c.Number;
                break;
            case CompareTarget.ModRevision:
                compare.Target = Etcdserverpb.Compare.Types.CompareTarget.Mod;
                compare.ModRevision = c.Number;
                break;
            default:
                compare.Target = Etcdserverpb.Compare.Types.CompareTarget.Value;
                compare.Value = ByteString.CopyFrom(c.Value ?? []);
                break;
        }

        return compare;
    }

    private RequestOp Op(StoreOp op) => op.IsDelete
        ? new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = Key(op.Key) } }
        : new RequestOp { RequestPut = new PutRequest { Key = Key(op.Key), Value = ByteString.CopyFrom(op.Value), Lease = op.Lease } };
}
