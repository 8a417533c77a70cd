using SnicRuntime.Contracts.Plans;
using SnicRuntime.Firmware.Encap;
using SnicRuntime.Firmware.Ha.Sync;
using SnicRuntime.Firmware.Plans;
using System.Runtime.CompilerServices;
using SnicRuntime.Firmware.Flows;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal;

namespace SnicRuntime.Firmware.Pipeline;

/// <summary>
/// HA on the worker (SPEC §3): for ENIs whose scope this card holds with a peer, every flow
/// change goes to the sync outbox and a new flow's packets wait in the hold queue until the peer
/// acknowledges it; for ENIs whose scope the peer holds, the flows the active sends are installed
/// here (and never aged here); a bulk walk answers a joining standby. None of it runs unless HA
/// is attached, and a non-HA burst pays one null check.
/// </summary>
public sealed partial class PolicyPipeline
{
    /// <summary>Installs per poll at most this many records from the inbox (bounds the time a poll takes).</summary>
    private const int InstallsPerPoll = 4096;

    /// <summary>Flows read per bulk-walk step.</summary>
    private const int WalkBatch = 64;

    private WorkerSync? _sync;
    private HaModeMap? _modeMap;
    private byte[] _modes = [];
    private HoldQueue? _hold;
    private FlowRecord<FlowKeyV4>[]? _walk4;
    private FlowRecord<FlowKeyV6>[]? _walk6;
    private readonly SyncRecord[] _fencedFirsts = new SyncRecord[256];

    public bool HasHa => _sync is not null;

    public WorkerSync? Sync => _sync;

    public HoldQueue? Hold => _hold;

    /// <summary>Connects this worker's pipeline to the card's HA node (before the workers start).</summary>
    public void AttachHa(WorkerSync sync, HaModeMap modes, int holdCapacity = 4096)
    {
        ArgumentNullException.ThrowIfNull(sync);
        _modeMap = modes ?? throw new ArgumentNullException(nameof(modes));
        _hold = new HoldQueue(holdCapacity);
        _walk4 = new FlowRecord<FlowKeyV4>[WalkBatch];
        _walk6 = new FlowRecord<FlowKeyV6>[WalkBatch];
        V4.Hooks = new SyncHooks<FlowKeyV4>(this);
        V6.Hooks = new SyncHooks<FlowKeyV6>(this);
        // Published last: a running worker that sees HA attached finds everything above in place.
        Volatile.Write(ref _sync, sync);
    }

    private HaMode ModeOfEni(int eni) => HaModeMap.Of(_modes, eni);

    // New flows are replicated (and their first packets held) on the active side, while handing
    // over, and for packets a standby peer redirected here: the peer listens to this card's sync.
    private bool ReplicatesNewFlow(int eni, int i) => ModeOfEni(eni) switch
    {
        HaMode.Replicate or HaMode.Draining => true,
        HaMode.Standby => _redirected[i],
        _ => false,
    };

    /// <summary>The first packet of a flow just created under a replicated scope: replicate, then hold it.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReplicateNewFlow<TKey>(FlowTable<TKey> table, in TKey key, int position, int i, ReadOnlySpan<PacketRef> packets,
        ReadOnlySpan<ParsedPacket> meta, Span<ushort> egress, Span<DropReason> drops) where TKey : unmanaged, IFlowKey<TKey>
    {
        ref FlowEntry entry = ref table.Entry(position);
        SyncRecord record = SyncRecord.Upsert(key, entry, meta[i].FlowHash);
        long number = _sync!.Offer(record);
        if (number == 0)
        {
            // Not replicable now: do not keep a flow the standby cannot have (it could be lost).
            table.Delete(position);
            Counters.FlowsCreated--;
            Drop(i, DropReason.HaSyncBackpressure, egress, drops);
            return;
        }

        if (egress[i] == Egress.Drop)
        {
            return; // the action itself dropped it; the flow is replicated all the same
        }

        if (!_hold!.TryHold(packets[i], egress[i], number, _eniOf[i], _redirected[i], record))
        {
            _sync.HoldFull++;
            Drop(i, DropReason.HaHoldFull, egress, drops); // the flow stays (replicated); the sender retries
            return;
        }

        entry.Flags |= FlowFlags.SyncPending;
        egress[i] = Egress.Held;
    }

    /// <summary>A hit on a flow whose create the peer has not acknowledged: it waits behind its first packet.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void HoldBehindPending(int i, ReadOnlySpan<PacketRef> packets, Span<ushort> egress, Span<DropReason> drops)
    {
        if (egress[i] >= Egress.Held)
        {
            return;
        }

        if (!_hold!.TryHold(packets[i], egress[i], _sync!.Produced, _eniOf[i], _redirected[i], default))
        {
            _sync.HoldFull++;
            Drop(i, DropReason.HaHoldFull, egress, drops);
            return;
        }

        egress[i] = Egress.Held;
    }

    // Standby side of a scope: the active decides. Re-encapsulate toward the peer card (its own
    // underlay address; both cards serve the same VIP) and send it back out where it came in.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RedirectToPeer(PolicyTables t, int i, int ingressPort, ReadOnlySpan<PacketRef> packets, ReadOnlySpan<ParsedPacket> meta,
        Span<ushort> egress, Span<DropReason> drops)
    {
        ref readonly ParsedPacket p = ref meta[i];
        EncapKind kind = p.Tunnel == TunnelKind.Nvgre ? EncapKind.Nvgre : EncapKind.Vxlan;
        if (!Encap.TunnelHeaders.Encapsulate(packets[i], p.InnerL2, kind, t.ApplianceMac, t.NeighborMac, t.Vip, _modeMap!.PeerUnderlay, p.Vni, p.FlowHash))
        {
            Drop(i, DropReason.EncapNoRoom, egress, drops);
            return;
        }

        Counters.HaRedirected++;
        egress[i] = (ushort)ingressPort;
    }

    // A packet a standby peer redirected here is addressed to this card's own underlay address.
    private bool RedirectedToUs(ReadOnlySpan<byte> frame, in ParsedPacket p) =>
        _modeMap is { LocalUnderlay: not 0 } m && System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(frame[(p.OuterL3 + 16)..]) == m.LocalUnderlay;

    /// <summary>A flow change that is not a create (re-decision, TCP state): replicated, not held.</summary>
    private void ReplicateChange<TKey>(in TKey key, in FlowEntry entry, uint hash) where TKey : unmanaged, IFlowKey<TKey>
    {
        if (_sync is not null && ModeOfEni((int)key.Scope) != HaMode.Alone)
        {
            _sync.Offer(SyncRecord.Upsert(key, entry, hash));
        }
    }

    private void ReplicateDelete<TKey>(in TKey key, uint version) where TKey : unmanaged, IFlowKey<TKey>
    {
        if (_sync is not null && ModeOfEni((int)key.Scope) != HaMode.Alone)
        {
            _sync.Offer(SyncRecord.Delete(key, version, key.RssHash()));
        }
    }

    /// <summary>
    /// Once per poll (through <see cref="PolicyStage.Release"/>): release held packets the peer has
    /// acknowledged, install what the active sent, advance a bulk walk.
    /// </summary>
    public int ServiceHa(Span<PacketRef> packets, Span<ushort> egress, Span<DropReason> drops)
    {
        WorkerSync s = _sync!;
        int fence = s.FenceRequest; // read before the modes: the node publishes them first
        _modes = _modeMap!.Modes;
        InstallFromPeer();
        WalkForBulk();
        int n = fence != s.FenceDone ? LetGoFenced(fence, packets, egress, drops) : 0;
        int dropped = n;
        long acked = Volatile.Read(ref s.Acked);
        while (n < packets.Length && _hold!.TryRelease(acked, out packets[n], out egress[n], out SyncRecord first))
        {
            ClearPending(in first);
            n++;
        }

        s.Released += n - dropped;
        return n;
    }

    // A scope this card no longer decides (it fenced itself, or a newer term stepped it down):
    // packets held for acknowledgements that may never come are dropped and counted, not kept
    // (their flows were never acknowledged, so the client's retransmission makes them again on
    // whichever card holds the scope). Their flows stay; the pending marks go with the packets.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int LetGoFenced(int fence, Span<PacketRef> packets, Span<ushort> egress, Span<DropReason> drops)
    {
        Span<SyncRecord> firsts = _fencedFirsts.AsSpan(0, Math.Min(packets.Length, _fencedFirsts.Length));
        int n = _hold!.TakeFenced(_modes, packets[..firsts.Length], firsts);
        for (int k = 0; k < n; k++)
        {
            ClearPending(in firsts[k]);
            egress[k] = Egress.Drop;
            drops[k] = DropReason.HaFenced;
        }

        _sync!.Fenced += n;
        if (n < firsts.Length)
        {
            _sync.FenceDone = fence; // all taken; else the rest next poll
        }

        return n;
    }

    private void ClearPending(in SyncRecord first)
    {
        if (first.Kind == SyncKind.UpsertV4)
        {
            ClearPending(V4, first.KeyAs<FlowKeyV4>());
        }
        else if (first.Kind == SyncKind.UpsertV6)
        {
            ClearPending(V6, first.KeyAs<FlowKeyV6>());
        }
    }

    private static void ClearPending<TKey>(FlowTable<TKey> table, in TKey key) where TKey : unmanaged, IFlowKey<TKey>
    {
        int p = table.Lookup(key);
        if (p >= 0)
        {
            table.Entry(p).Flags &= ~FlowFlags.SyncPending;
        }
    }

    // Standby side: flows the active sent, in its order; a record older than what is here is stale.
    private void InstallFromPeer()
    {
        WorkerSync s = _sync!;
        if (_forgetEni >= 0 && !ForgetStep())
        {
            return; // a range sync's forgetting comes first: the records behind it are the ENI's flows afresh
        }

        for (int k = 0; k < InstallsPerPoll && s.Inbox.TryDequeue(out SyncRecord r); k++)
        {
            switch (r.Kind)
            {
                case SyncKind.RangeBegin:
                    if (StartForget(r.RangeEni) && !ForgetStep())
                    {
                        return;
                    }

                    break;
                case SyncKind.UpsertV4:
                    Install(V4, r.KeyAs<FlowKeyV4>(), in r);
                    break;
                case SyncKind.UpsertV6:
                    Install(V6, r.KeyAs<FlowKeyV6>(), in r);
                    break;
                case SyncKind.DeleteV4:
                    Remove(V4, r.KeyAs<FlowKeyV4>(), r.Version);
                    break;
                case SyncKind.DeleteV6:
                    Remove(V6, r.KeyAs<FlowKeyV6>(), r.Version);
                    break;
            }
        }
    }

    private void Install<TKey>(FlowTable<TKey> table, in TKey key, in SyncRecord r) where TKey : unmanaged, IFlowKey<TKey>
    {
        WorkerSync s = _sync!;
        int p = table.Lookup(key);
        if (p >= 0)
        {
            ref FlowEntry e = ref table.Entry(p);
            if (r.Version < e.Version)
            {
                s.InstallStale++;
                return;
            }

            e.Action = r.Action;
            e.Version = r.Version;
            e.Generation = r.Generation;
            e.Tcp = r.Tcp;
            e.Flags = (e.Flags & FlowFlags.Valid) | r.Flags;
            s.Installed++;
            return;
        }

        var entry = new FlowEntry { Action = r.Action, Version = r.Version, Generation = r.Generation, Tcp = r.Tcp, Flags = r.Flags, LastSeenMs = NowMs };
        if (table.Insert(key, entry, out _) == InsertResult.Full)
        {
            s.InstallFull++;
            return;
        }

        s.Installed++;
    }

    private void Remove<TKey>(FlowTable<TKey> table, in TKey key, uint version) where TKey : unmanaged, IFlowKey<TKey>
    {
        int p = table.Lookup(key);
        if (p >= 0 && version >= table.Entry(p).Version)
        {
            table.Delete(p);
            _sync!.Deleted++;
        }
    }

    /// <summary>The table hooks: TCP state changes are replicated; aging is the active's decision only.</summary>
    private sealed class SyncHooks<TKey>(PolicyPipeline owner) : FlowHooks<TKey> where TKey : unmanaged, IFlowKey<TKey>
    {
        public override bool Aging(in TKey key, in FlowEntry entry)
        {
            HaMode mode = owner.ModeOfEni((int)key.Scope);
            if (mode == HaMode.Standby)
            {
                return false; // the active ages it and tells us
            }

            owner.ReplicateDelete(key, entry.Version + 1);
            return true;
        }

        public override void StateChanged(in TKey key, in FlowEntry entry) => owner.ReplicateChange(key, entry, key.RssHash());
    }
}
