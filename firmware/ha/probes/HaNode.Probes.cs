using SnicRuntime.Firmware.Ha.Channel;
using SnicRuntime.Firmware.Ha.Sync;
using System.Buffers.Binary;
using System.Diagnostics;
using SnicRuntime.Firmware.Pipeline;
namespace SnicRuntime.Firmware.Ha;

/// <summary>
/// Liveness: the BFD-like probes a node sends its peer every interval (they carry each scope's
/// state and term), what a received probe tells the scopes, and the management plane's visits
/// (the witness) that let an active keep forwarding when it hears no peer.
/// </summary>
public sealed partial class HaNode
{
    private byte[] ProbePayload()
    {
        _probe[0] = (byte)_scopes.Length;
        for (int i = 0; i < _scopes.Length; i++)
        {
            Span<byte> b = _probe.AsSpan(1 + (i * 13));
            BinaryPrimitives.WriteUInt32LittleEndian(b, _scopeIds[i]);
            b[4] = (byte)_scopes[i].State;
            BinaryPrimitives.WriteInt64LittleEndian(b[5..], _scopes[i].Term);
        }

        return _probe;
    }

    private void OnProbe(ReadOnlySpan<byte> payload)
    {
        if (payload.IsEmpty || payload.Length < 1 + (payload[0] * 13))
        {
            return;
        }

        for (int k = 0; k < payload[0]; k++)
        {
            ReadOnlySpan<byte> b = payload.Slice(1 + (k * 13), 13);
            int i = Array.IndexOf(_scopeIds, BinaryPrimitives.ReadUInt32LittleEndian(b));
            if (i < 0 || b[4] > (byte)HaState.SwitchingToStandby)
            {
                continue; // a scope this card does not have (configured on one side only)
            }

            var peerState = (HaState)b[4];
            Raise(_scopes[i], new HaEvent(HaEventKind.PeerState, PeerState: peerState, PeerTerm: BinaryPrimitives.ReadInt64LittleEndian(b[5..])), NowMs);

            // The standby lost us and came back (its probes stopped arriving for a while) while we
            // kept hearing it: it is initializing again and waits for a bulk sync we have not
            // started. Start one — once per peer run, or again if the last one is a second old.
            if (peerState == HaState.InitializingToStandby && _scopes[i].State is HaState.Active or HaState.InitializingToActive
                && !Sync.BulkInProgress && (Channel.PeerEpoch != _bulkPeerEpoch || NowMs - _bulkRequestedMs > 1000))
            {
                RequestBulk();
            }
        }
    }

    /// <summary>The management plane (the witness) just reached this card.</summary>
    public void WitnessHeard()
    {
        lock (_gate)
        {
            bool wasLost = _witnessHeardAt >= 0 && !_witnessUp;
            _witnessHeardAt = NowMs;
            _witnessUp = true;
            if (wasLost)
            {
                RaiseAll(new HaEvent(HaEventKind.WitnessUp));
            }
        }
    }
}
