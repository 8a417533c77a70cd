namespace SnicRuntime.Firmware.Ha.Channel;

public sealed partial class HaChannel
{
    private HaCrypto? _candidate; // key for a newer peer epoch, made once, adopted when a frame verifies
    private ulong _candidateEpoch;
    private ulong _highestSacked;

    private int Accept(ReadOnlySpan<byte> datagram, long nowMs, IHaReceiver receiver)
    {
        Counters.DatagramsReceived++;
        if (!HaFrameHeader.TryRead(datagram, out HaFrameHeader h, out HaDrop why))
        {
            return Drop(why);
        }

        if (h.Sender != _peerId)
        {
            return Drop(HaDrop.UnknownSender);
        }

        if (h.Epoch < _peerEpoch || h.Epoch == 0)
        {
            return Drop(HaDrop.StaleEpoch);
        }

        HaCrypto opener;
        if (h.Epoch == _peerEpoch)
        {
            opener = _opener!;
        }
        else
        {
            if (_candidate is null || _candidateEpoch != h.Epoch)
            {
                _candidate?.Dispose();
                _candidate = new HaCrypto(_pairingKey, _peerId, h.Epoch);
                _candidateEpoch = h.Epoch;
            }

            opener = _candidate;
        }

        ReadOnlySpan<byte> header = datagram[..HaFrameHeader.Size];
        ReadOnlySpan<byte> cipher = datagram.Slice(HaFrameHeader.Size, h.Length);
        ReadOnlySpan<byte> tag = datagram.Slice(HaFrameHeader.Size + h.Length, HaCrypto.TagSize);
        Span<byte> plain = _opened.AsSpan(0, h.Length);
        if (!opener.Open(h.Counter, h.Sender, header, cipher, tag, plain))
        {
            return Drop(HaDrop.Forged);
        }

        if (h.Epoch != _peerEpoch)
        {
            AdoptPeerRun(h, receiver);
        }

        if (!_replay.Accept(h.Counter))
        {
            return Drop(HaDrop.Replayed);
        }

        LastHeardMs = nowMs;
        TakeAck(h.Ack, h.Sack);
        if (h.Base > _delivered + 1)
        {
            SkipTo(h.Base - 1, receiver);
        }

        switch (h.Type)
        {
            case HaFrameType.Probe:
                Counters.ProbesReceived++;
                LastProbeMs = nowMs;
                receiver.OnProbe(plain);
                return 0;
            case HaFrameType.Ack:
                return 0;
            default:
                return TakeData(h, plain, receiver);
        }
    }

    // The first verified frame of a peer run: begin its stream where the sender can still
    // retransmit (its base), forget the previous run's frames and counters.
    private void AdoptPeerRun(in HaFrameHeader h, IHaReceiver receiver)
    {
        bool restarted = _peerEpoch != 0;
        _opener?.Dispose();
        _opener = _candidate;
        _candidate = null;
        _peerEpoch = h.Epoch;
        _replay.Reset();
        Array.Clear(_recvHeld);
        _delivered = h.Base - 1;
        if (restarted)
        {
            // What the previous run held (selective acks) is gone with it: every frame still in
            // our window goes to the new run, at once.
            Array.Clear(_sendSacked);
            _highestSacked = 0;
            for (ulong seq = _base; seq < _nextSeq; seq++)
            {
                _sendAtMs[Slot(seq)] = long.MinValue / 2;
                _sendRto[Slot(seq)] = _options.RetransmitMs;
            }

            Counters.PeerRestarts++;
            receiver.OnPeerRestarted();
        }
    }

    // The sender no longer holds anything below its base: a run of ours that started while an
    // earlier run's acknowledgements were still in flight would otherwise wait forever for frames
    // that went to that earlier run (their content reaches a new run by bulk sync instead).
    private void SkipTo(ulong delivered, IHaReceiver receiver)
    {
        for (ulong seq = _delivered + 1; seq <= delivered && seq - _delivered <= (ulong)_options.Window; seq++)
        {
            _recvHeld[Slot(seq)] = false;
        }

        Counters.Skipped += (long)(delivered - _delivered);
        _delivered = delivered;
        while (_recvHeld[Slot(_delivered + 1)])
        {
            int s = Slot(_delivered + 1);
            _recvHeld[s] = false;
            _delivered++;
            Counters.FramesDelivered++;
            receiver.OnPayload(_recvPlain[s].AsSpan(0, _recvLength[s]));
        }

        _ackDue = true;
    }

    private int TakeData(in HaFrameHeader h, ReadOnlySpan<byte> plain, IHaReceiver receiver)
    {
        _ackDue = true; // duplicates are re-acked too: their first ack may have been lost
        if (h.Seq <= _delivered)
        {
            return Drop(HaDrop.Duplicate);
        }

        if (h.Seq - _delivered > (ulong)_options.Window)
        {
            return Drop(HaDrop.TooFarAhead);
        }

        int slot = Slot(h.Seq);
        if (_recvHeld[slot])
        {
            return Drop(HaDrop.Duplicate); // already buffered out of order
        }

        int length;
        if ((h.Flags & HaFrameFlags.Compressed) != 0)
        {
            if (!Lz4Block.TryDecompress(plain, _recvPlain[slot], out length))
            {
                return Drop(HaDrop.BadPayload);
            }
        }
        else
        {
            if (plain.Length > _recvPlain[slot].Length)
            {
                return Drop(HaDrop.BadPayload);
            }

            plain.CopyTo(_recvPlain[slot]);
            length = plain.Length;
        }

        _recvLength[slot] = length;
        _recvHeld[slot] = true;
        Counters.FramesReceived++;

        int delivered = 0;
        while (_recvHeld[Slot(_delivered + 1)])
        {
            int s = Slot(_delivered + 1);
            _recvHeld[s] = false;
            _delivered++;
            Counters.FramesDelivered++;
            receiver.OnPayload(_recvPlain[s].AsSpan(0, _recvLength[s]));
            delivered++;
        }

        if (_delivered + 1 < h.Seq)
        {
            Counters.OutOfOrder++;
        }

        return delivered;
    }

    // The peer's cumulative ack frees our window; its selective bitmap spares held frames a resend.
    private void TakeAck(ulong ack, ulong sack)
    {
        if (ack >= _nextSeq)
        {
            return; // acks something never sent (a peer of another run): ignore
        }

        while (_base <= ack)
        {
            _sendSacked[Slot(_base)] = false;
            _base++;
        }

        for (int i = 0; i < 64 && sack != 0; i++, sack >>= 1)
        {
            ulong seq = ack + 1 + (ulong)i;
            if ((sack & 1) != 0 && seq >= _base && seq < _nextSeq)
            {
                _sendSacked[Slot(seq)] = true;
                _highestSacked = Math.Max(_highestSacked, seq);
            }
        }

    }

    private void Retransmit(long nowMs)
    {
        for (ulong seq = _base; seq < _nextSeq; seq++)
        {
            int slot = Slot(seq);
            if (_sendSacked[slot])
            {
                continue;
            }

            long waited = nowMs - _sendAtMs[slot];
            // A hole below a frame the peer holds is a loss, not a delay: resend it sooner.
            bool hole = seq < _highestSacked && waited >= Math.Max(1, _options.RetransmitMs / 4);
            if (waited < _sendRto[slot] && !hole)
            {
                continue;
            }

            Transmit(HaFrameType.Data, _sendFlags[slot], seq, _sendPlain[slot].AsSpan(0, _sendLength[slot]));
            _sendAtMs[slot] = nowMs;
            _sendRto[slot] = Math.Min(_sendRto[slot] * 2, _options.MaxRetransmitMs);
            Counters.Retransmits++;
        }
    }

    private int Drop(HaDrop why)
    {
        Counters.Drops[(int)why]++;
        return 0;
    }
}

/// <summary>A channel's counters (written by its one sync thread; read by anyone).</summary>
public sealed class HaChannelCounters
{
    public long FramesSent;
    public long Retransmits;
    public long AcksSent;
    public long ProbesSent;
    public long ProbesReceived;
    public long DatagramsReceived;
    public long FramesReceived;
    public long FramesDelivered;
    public long OutOfOrder;
    public long WindowFull;
    public long LinkRefused;
    public long PeerRestarts;
    /// <summary>Frames of the peer's stream this run never needed: they went to an earlier run of ours.</summary>
    public long Skipped;
    public long PayloadBytes;
    public long WireBytes;

    /// <summary>Rejected datagrams by <see cref="HaDrop"/>.</summary>
    public long[] Drops { get; } = new long[(int)HaDrop.Count];
}
