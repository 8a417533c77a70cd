namespace SnicRuntime.Hal;

/// <summary>
/// Receive side of one hardware queue. Implemented by structs so that a worker generic over
/// <c>TRx : struct, IRxQueue</c> gets a direct, inlinable call under NativeAOT.
/// </summary>
public interface IRxQueue
{
    /// <summary>Fills <paramref name="packets"/> from the front; returns how many. Never throws.</summary>
    int RxBurst(Span<PacketRef> packets);
}

/// <summary>Transmit side of one hardware queue.</summary>
public interface ITxQueue
{
    /// <summary>
    /// Takes packets from the front of <paramref name="packets"/>; returns how many were accepted.
    /// Accepted packets belong to the driver; the rest still belong to the caller. Never throws.
    /// </summary>
    int TxBurst(ReadOnlySpan<PacketRef> packets);
}
