using SnicRuntime.Firmware.Encap;
using SnicRuntime.Firmware.Plans;
using SnicRuntime.Firmware.Routing;
using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using SnicRuntime.Firmware.Acl;
using SnicRuntime.Firmware.Flows;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Net;

namespace SnicRuntime.Firmware.Pipeline;

public sealed partial class PolicyPipeline
{
    /// <summary>
    /// A packet with no current flow: create one, re-decide a stale one, or drop. The policy
    /// decision was made for the whole burst beforehand (<see cref="DecideBurst"/>); this pass is
    /// sequential because a flow created here may be hit by a later packet of the same burst.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Miss<TKey>(FlowTable<TKey> table, in TKey key, bool forward, int j, int ingressPort, ReadOnlySpan<PacketRef> packets,
        ReadOnlySpan<ParsedPacket> meta, Span<ushort> egress, Span<DropReason> drops) where TKey : unmanaged, IFlowKey<TKey>
    {
        int i = _mPacket[j];
        ref readonly ParsedPacket p = ref meta[i];
        PolicyTables t = _tables;
        int existing = table.Lookup(key); // made or re-decided by an earlier packet of this burst?
        if (existing >= 0 && table.Entry(existing).Generation == t.Generation16)
        {
            table.Touch(existing, NowMs, p.TcpFlags, packets[i].Length);
            Counters.FlowHits++;
            Apply(i, table.Entry(existing).Action, ingressPort, packets, meta, egress, drops);
            if (_hold is not null && (table.Entry(existing).Flags & FlowFlags.SyncPending) != 0)
            {
                HoldBehindPending(i, packets, egress, drops);
            }

            return;
        }

        PipelineCounters c = Counters;
        Eni eni = t.Enis[_eniOf[i]]!;
        if (existing < 0)
        {
            if (_sync is not null && ModeOfEni(eni.Index) == Ha.Sync.HaMode.Draining)
            {
                // Handing over: new flows are the peer's, even ones it redirected here (the peer
                // decides what comes back redirected, so this is two hops at most), so that
                // nothing new enters the outbox and the hand-over can finish.
                RedirectToPeer(t, i, ingressPort, packets, meta, egress, drops);
                return;
            }

            c.FlowMisses++;
            // SPEC §2: only a SYN creates a TCP flow; anything else without a flow is dropped.
            if (CannotCreate(in p))
            {
                Drop(i, DropReason.NoFlow, egress, drops);
                return;
            }
        }

        if (_mReason[j] != DropReason.None)
        {
            if (existing >= 0)
            {
                uint version = table.Entry(existing).Version + 1;
                table.Delete(existing);
                c.FlowsRevoked++;
                ReplicateDelete(key, version);
            }

            Drop(i, _mReason[j], egress, drops);
            return;
        }

        uint action = _mAction[j];
        if (existing >= 0)
        {
            ref FlowEntry entry = ref table.Entry(existing);
            entry.Action = action;
            entry.Generation = t.Generation16;
            entry.Version++;
            table.Touch(existing, NowMs, p.TcpFlags, packets[i].Length);
            c.FlowsReevaluated++;
            ReplicateChange(key, table.Entry(existing), p.FlowHash);
        }
        else
        {
            FlowEntry entry = FlowEntry.ForFirstPacket(action, NowMs, packets[i].Length, t.Generation16, in p, forward);
            if (table.Insert(key, entry, out int position) == InsertResult.Full)
            {
                Drop(i, DropReason.FlowTableFull, egress, drops);
                return;
            }

            c.FlowsCreated++;
            c.EniFlowsCreated[eni.Index]++;
            Apply(i, action, ingressPort, packets, meta, egress, drops);
            if (_sync is not null && ReplicatesNewFlow(eni.Index, i))
            {
                ReplicateNewFlow(table, key, position, i, packets, meta, egress, drops);
            }

            return;
        }

        Apply(i, action, ingressPort, packets, meta, egress, drops);
    }

}
