using SnicRuntime.Firmware.Flows;
using SnicRuntime.Firmware.Ha.Sync;

namespace SnicRuntime.Firmware.Pipeline;

/// <summary>
/// The table walks of HA sync, a batch per poll so forwarding goes on between batches: the active
/// walks for a bulk sync (every replicated flow) or an ENI range sync (one ENI's flows); the
/// standby, told a range sync begins, first forgets what it holds of that ENI.
/// </summary>
public sealed partial class PolicyPipeline
{
    /// <summary>Batches a walk step reads per poll at most (each of <see cref="WalkBatch"/> flows).</summary>
    private const int WalkBatchesPerPoll = 16;

    /// <summary>Batches a forget step reads per poll (a standby worker installs nothing meanwhile).</summary>
    private const int ForgetBatchesPerPoll = 32;

    private int _walkBucket4;
    private int _walkBucket6;
    private int _walking;
    private int _walkEni = -1;
    private int _forgetEni = -1;
    private int _forgetBucket4;
    private int _forgetBucket6;

    // Active side: walk both tables a batch per poll, sending every flow of a replicated scope
    // (of one ENI, for a range sync) through the same outbox as inline changes, so per flow the
    // standby sees changes in the order they happened; then report the walk done.
    private void WalkForBulk()
    {
        WorkerSync s = _sync!;
        int request = s.BulkRequest;
        if (request == s.BulkDone)
        {
            return;
        }

        if (_walking != request)
        {
            _walking = request;
            _walkEni = s.BulkEni; // published by the volatile BulkRequest read above
            _walkBucket4 = 0;
            _walkBucket6 = 0;
        }

        // Several batches per poll while the outbox has room: a range sync skips most of what it
        // reads, and a batch a poll left a 1M-flow walk at 15,600 polls (measured 120 ms for a
        // range of 100K flows among 1M).
        for (int batch = 0; batch < WalkBatchesPerPoll; batch++)
        {
            if (s.Outbox.Capacity - s.Outbox.Count < WalkBatch * 2 + 1)
            {
                return; // the outbox drains first; the walk resumes next poll
            }

            if (_walkBucket4 >= 0)
            {
                int n = V4.ReadFlows(_walkBucket4, _walk4, out _walkBucket4);
                for (int k = 0; k < n; k++)
                {
                    if (_walkEni < 0 || _walk4![k].Key.Scope == (uint)_walkEni)
                    {
                        ReplicateChange(_walk4![k].Key, _walk4[k].Entry, _walk4[k].Key.RssHash());
                    }
                }
            }
            else if (_walkBucket6 >= 0)
            {
                int n = V6.ReadFlows(_walkBucket6, _walk6, out _walkBucket6);
                for (int k = 0; k < n; k++)
                {
                    if (_walkEni < 0 || _walk6![k].Key.Scope == (uint)_walkEni)
                    {
                        ReplicateChange(_walk6![k].Key, _walk6[k].Entry, _walk6[k].Key.RssHash());
                    }
                }
            }
            else
            {
                break;
            }
        }

        if (_walkBucket4 >= 0 || _walkBucket6 >= 0)
        {
            return;
        }

        s.Offer(new SyncRecord { Kind = SyncKind.BulkWalked, Worker = (byte)s.Id });
        s.BulkDone = request;
    }

    // Standby side: a range sync of this ENI begins. Only an ENI this card stands by for is
    // forgotten (its flows come back in the records that follow); on any other the marker is
    // ignored, so a confused peer cannot empty what this card decides.
    private bool StartForget(int eni)
    {
        if (ModeOfEni(eni) != HaMode.Standby)
        {
            return false;
        }

        _forgetEni = eni;
        _forgetBucket4 = 0;
        _forgetBucket6 = 0;
        return true;
    }

    // One step of forgetting; true when the ENI's flows are all gone, or when this card stopped
    // standing by for the ENI meanwhile (it took the scope over: what it still holds it keeps).
    private bool ForgetStep()
    {
        if (ModeOfEni(_forgetEni) != HaMode.Standby)
        {
            _forgetEni = -1;
            return true;
        }

        for (int b = 0; b < ForgetBatchesPerPoll; b++)
        {
            if (_forgetBucket4 >= 0)
            {
                int n = V4.ReadFlows(_forgetBucket4, _walk4, out _forgetBucket4);
                Forget(V4, _walk4.AsSpan(0, n));
            }
            else if (_forgetBucket6 >= 0)
            {
                int n = V6.ReadFlows(_forgetBucket6, _walk6, out _forgetBucket6);
                Forget(V6, _walk6.AsSpan(0, n));
            }
            else
            {
                _forgetEni = -1;
                return true;
            }
        }

        return false;
    }

    private void Forget<TKey>(FlowTable<TKey> table, ReadOnlySpan<FlowRecord<TKey>> flows) where TKey : unmanaged, IFlowKey<TKey>
    {
        foreach (ref readonly FlowRecord<TKey> f in flows)
        {
            if (f.Key.Scope == (uint)_forgetEni)
            {
                int p = table.Lookup(f.Key);
                if (p >= 0)
                {
                    table.Delete(p);
                    _sync!.Forgotten++;
                }
            }
        }
    }
}
