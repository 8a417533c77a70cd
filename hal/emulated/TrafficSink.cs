using System.Diagnostics;

namespace SnicRuntime.Hal.Emulated;

/// <summary>
/// The far end of the emulated wire: takes what ports transmit, counts it, and returns the
/// buffers to the pool. One sink thread owns the wire side of the ports it drains.
/// </summary>
public sealed class TrafficSink
{
    private readonly EmulatedPort[] _ports;
    private readonly PacketPool _pool;
    private readonly PacketRef[] _burst = new PacketRef[64];
    private long _packets;
    private long _bytes;
    private long _firstPacketTimestamp;

    public TrafficSink(PacketPool pool, params EmulatedPort[] ports)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(ports);
        _pool = pool;
        _ports = ports;
    }

    public long Packets => Volatile.Read(ref _packets);

    public long Bytes => Volatile.Read(ref _bytes);

    /// <summary>Stopwatch timestamp of the first packet received, 0 before any.</summary>
    public long FirstPacketTimestamp => Volatile.Read(ref _firstPacketTimestamp);

    /// <summary>One pass over every port; returns the packets taken.</summary>
    public int DrainOnce()
    {
        int total = 0;
        foreach (EmulatedPort port in _ports)
        {
            int n;
            while ((n = port.Drain(_burst)) > 0)
            {
                if (_firstPacketTimestamp == 0)
                {
                    Volatile.Write(ref _firstPacketTimestamp, Stopwatch.GetTimestamp());
                }

                long bytes = 0;
                for (int i = 0; i < n; i++)
                {
                    bytes += _burst[i].Length;
                }

                _pool.FreeBulk(_burst.AsSpan(0, n));
                Volatile.Write(ref _packets, _packets + n);
                Volatile.Write(ref _bytes, _bytes + bytes);
                total += n;
            }
        }

        return total;
    }

    /// <summary>Drains until cancelled, then once more so nothing transmitted before the stop is left.</summary>
    public void Run(CancellationToken cancel, int idleSleepMs = 0)
    {
        while (!cancel.IsCancellationRequested)
        {
            if (DrainOnce() == 0)
            {
                if (idleSleepMs > 0)
                {
                    Thread.Sleep(idleSleepMs); // many light cards on one host: see IWorker.IdleSleepMs
                }
                else
                {
                    Thread.Yield();
                }
            }
        }

        DrainOnce();
    }
}
