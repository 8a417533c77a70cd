using System.Buffers.Binary;

namespace SnicRuntime.Firmware.Ha.Channel;

/// <summary>Kinds of replication-channel frames.</summary>
public enum HaFrameType : byte
{
    /// <summary>Reliable, sequenced payload (flow records, control messages).</summary>
    Data = 1,
    /// <summary>Acknowledgement only (cumulative ack + selective bitmap), no payload.</summary>
    Ack = 2,
    /// <summary>Liveness probe (BFD-like); payload: the sender's scope states.</summary>
    Probe = 3,
}

[Flags]
public enum HaFrameFlags : byte
{
    None = 0,
    /// <summary>The payload was compressed (LZ4 block format) before encryption.</summary>
    Compressed = 1,
}

/// <summary>
/// The replication channel's frame header. Every field is authenticated (AES-GCM associated
/// data); only the payload is encrypted.
/// </summary>
/// <remarks>
/// <code>
///  0       2    3    4     5    6       8            12           16
///  | magic | ver| type|flags| rsv| length | sender id  | reserved   |
/// 16                       24                        32
///  | epoch (µs when the sender's channel started)    | counter (nonce; +1 per datagram) |
/// 32                       40                        48
///  | seq (reliable order; 0 = not sequenced)         | ack (all seq ≤ ack received)     |
/// 48                       56                        64
///  | sack (bit i: seq ack+1+i received)              | base (oldest seq still held)     |
/// 64
///  | payload (length) | GCM tag (16) |
/// </code>
/// <c>base</c> lets a receiver that has no state for this sender run (it just started) begin at
/// the first frame the sender can still retransmit, instead of waiting for a seq 1 long gone.
/// The nonce is (counter, sender id): unique per datagram under a key derived for (pairing key,
/// sender, epoch), so retransmissions and acks never reuse a nonce and a restarted sender gets a
/// fresh key.
/// </remarks>
public readonly record struct HaFrameHeader(
    HaFrameType Type, HaFrameFlags Flags, ushort Length, uint Sender, ulong Epoch, ulong Counter, ulong Seq, ulong Ack, ulong Sack, ulong Base)
{
    public const int Size = 64;
    public const ushort Magic = 0x5348; // "SH"
    public const byte Version = 1;

    public void Write(Span<byte> b)
    {
        BinaryPrimitives.WriteUInt16BigEndian(b, Magic);
        b[2] = Version;
        b[3] = (byte)Type;
        b[4] = (byte)Flags;
        b[5] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(b[6..], Length);
        BinaryPrimitives.WriteUInt32BigEndian(b[8..], Sender);
        BinaryPrimitives.WriteUInt32BigEndian(b[12..], 0);
        BinaryPrimitives.WriteUInt64BigEndian(b[16..], Epoch);
        BinaryPrimitives.WriteUInt64BigEndian(b[24..], Counter);
        BinaryPrimitives.WriteUInt64BigEndian(b[32..], Seq);
        BinaryPrimitives.WriteUInt64BigEndian(b[40..], Ack);
        BinaryPrimitives.WriteUInt64BigEndian(b[48..], Sack);
        BinaryPrimitives.WriteUInt64BigEndian(b[56..], Base);
    }

    /// <summary>Reads a header; false (with the reason) for anything that is not a well-formed frame of ours.</summary>
    public static bool TryRead(ReadOnlySpan<byte> b, out HaFrameHeader header, out HaDrop reason)
    {
        header = default;
        if (b.Length < Size + HaCrypto.TagSize)
        {
            reason = HaDrop.Truncated;
            return false;
        }

        if (BinaryPrimitives.ReadUInt16BigEndian(b) != Magic || b[2] != Version)
        {
            reason = HaDrop.NotOurs;
            return false;
        }

        var type = (HaFrameType)b[3];
        if (type is not (HaFrameType.Data or HaFrameType.Ack or HaFrameType.Probe) || (b[4] & ~(int)HaFrameFlags.Compressed) != 0)
        {
            reason = HaDrop.Malformed;
            return false;
        }

        header = new HaFrameHeader(type, (HaFrameFlags)b[4], BinaryPrimitives.ReadUInt16BigEndian(b[6..]), BinaryPrimitives.ReadUInt32BigEndian(b[8..]),
            BinaryPrimitives.ReadUInt64BigEndian(b[16..]), BinaryPrimitives.ReadUInt64BigEndian(b[24..]), BinaryPrimitives.ReadUInt64BigEndian(b[32..]),
            BinaryPrimitives.ReadUInt64BigEndian(b[40..]), BinaryPrimitives.ReadUInt64BigEndian(b[48..]), BinaryPrimitives.ReadUInt64BigEndian(b[56..]));
        if (b.Length != Size + header.Length + HaCrypto.TagSize)
        {
            reason = HaDrop.Malformed;
            return false;
        }

        reason = HaDrop.None;
        return true;
    }
}

/// <summary>Why a received datagram was not accepted (each counted by the channel).</summary>
public enum HaDrop : byte
{
    None,
    /// <summary>Shorter than a header and a tag.</summary>
    Truncated,
    /// <summary>Wrong magic or version: not a replication frame of this protocol.</summary>
    NotOurs,
    /// <summary>Bad type or flags, or a length that does not match the datagram.</summary>
    Malformed,
    /// <summary>From a sender id that is not the peer.</summary>
    UnknownSender,
    /// <summary>The GCM tag did not verify: forged, corrupted, or under another key.</summary>
    Forged,
    /// <summary>An epoch older than the peer's current one (a recorded frame of an earlier run).</summary>
    StaleEpoch,
    /// <summary>A counter already seen or too old for the window: a replayed datagram.</summary>
    Replayed,
    /// <summary>Sequence already delivered (a retransmission that crossed its ack): re-acked, not delivered again.</summary>
    Duplicate,
    /// <summary>Sequence beyond the receive window.</summary>
    TooFarAhead,
    /// <summary>The compressed payload did not decompress.</summary>
    BadPayload,
    Count,
}
