using SnicRuntime.Management.Store;

namespace SnicRuntime.Management.Fleet;

/// <summary>
/// Writes a round's delivery records by group commit: a record waits for the write under way, then
/// goes with every record that arrived meanwhile in one fenced transaction (up to <see
/// cref="Batch"/>). A round that reaches 64 cards commits a few transactions, not 64 — on SQLite,
/// where writers queue, one record each made the next change wait behind the last round's records.
/// </summary>
internal sealed class DeliveryRecorder(IStateStore store, IReadOnlyList<StoreCompare> fence)
{
    /// <summary>Records per transaction: under etcd's 128 operations, with room for the fence.</summary>
    public const int Batch = 100;

    private readonly object _gate = new();
    private readonly List<(DeliveryRecord Record, TaskCompletionSource Done)> _waiting = [];
    private bool _writing;
    private long _revision;

    /// <summary>The store revision of the last transaction committed (0: none yet).</summary>
    public long Revision => Interlocked.Read(ref _revision);

    /// <summary>Completes when a transaction holding <paramref name="record"/> has committed (or was refused by the fence: a deposed leader records nothing).</summary>
    public Task Add(DeliveryRecord record, CancellationToken cancel)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bool start;
        lock (_gate)
        {
            _waiting.Add((record, done));
            start = !_writing;
            _writing = true;
        }

        if (start)
        {
            _ = Task.Run(() => Drain(cancel), CancellationToken.None);
        }

        return done.Task;
    }

    private static void InterlockedMax(ref long target, long value)
    {
        for (long seen = Interlocked.Read(ref target); value > seen; seen = Interlocked.Read(ref target))
        {
            if (Interlocked.CompareExchange(ref target, value, seen) == seen)
            {
                return;
            }
        }
    }

    private async Task Drain(CancellationToken cancel)
    {
        while (true)
        {
            List<(DeliveryRecord Record, TaskCompletionSource Done)> batch;
            lock (_gate)
            {
                if (_waiting.Count == 0)
                {
                    _writing = false;
                    return;
                }

                batch = _waiting[..Math.Min(Batch, _waiting.Count)];
                _waiting.RemoveRange(0, batch.Count);
            }

            try
            {
                TxnResult r = await store.Txn(fence, [.. batch.Select(b => StoreOp.Put(FleetKeys.Delivery(b.Record.Card), FleetJson.Bytes(b.Record, FleetJson.Default.DeliveryRecord)))], null, cancel);
                if (r.Succeeded)
                {
                    InterlockedMax(ref _revision, r.Revision);
                }

                batch.ForEach(b => b.Done.TrySetResult());
            }
            catch (Exception e)
            {
                batch.ForEach(b => b.Done.TrySetException(e));
            }
        }
    }
}
