using System.Buffers.Binary;
using System.Diagnostics;
using SnicRuntime.Hal.Net;

namespace SnicRuntime.Hal.Emulated;

/// <summary>
/// Makes realistic flow traffic for the emulated wire: each of <see cref="TrafficProfile.Flows"/>
/// slots plays one flow's life (TCP: SYN, SYN-ACK, ACK, data both ways, FIN, FIN-ACK, ACK; UDP and
/// ICMP: request/response), then starts a new flow with a new 5-tuple. Packets are built into pool
/// buffers with correct checksums. Deterministic for a given seed.
/// </summary>
/// <remarks>
/// A flow's addresses, ports, kind and MACs are all derived from its id by a hash, so the
/// generator keeps only a step counter per slot: 1M flows cost 12 MB, not 1M templates.
/// </remarks>
public sealed partial class TrafficGenerator
{
    private readonly TrafficProfile _profile;
    private readonly PacketPool _pool;
    private readonly ulong[] _flowIds;
    private readonly int[] _steps;
    private ulong _nextFlowId;
    private int _cursor;

    public TrafficGenerator(TrafficProfile profile, PacketPool pool)
    {
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentNullException.ThrowIfNull(pool);
        IReadOnlyList<string> errors = profile.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException("traffic profile: " + string.Join("; ", errors), nameof(profile));
        }

        _profile = profile;
        _pool = pool;
        _flowIds = new ulong[profile.Flows];
        _steps = new int[profile.Flows];
        for (int i = 0; i < profile.Flows; i++)
        {
            _flowIds[i] = (ulong)i;
        }

        _nextFlowId = (ulong)profile.Flows;
        FlowsStarted = profile.Flows;
    }

    public long Packets { get; private set; }

    public long Bytes { get; private set; }

    public long FlowsStarted { get; private set; }

    public long FlowsFinished { get; private set; }

    /// <summary>Bursts that found the pool empty (the wire backed off).</summary>
    public long PoolEmptyStalls { get; private set; }

    /// <summary>Allocates buffers and writes the next packets into them; returns how many.</summary>
    public int Fill(Span<PacketRef> packets)
    {
        int n = _pool.AllocBulk(packets);
        if (n < packets.Length)
        {
            PoolEmptyStalls++;
        }

        for (int i = 0; i < n; i++)
        {
            PacketRef p = packets[i];
            p.SetLength(p.Tailroom);
            int length = WriteNext(p.Data);
            p.SetLength(length);
            Packets++;
            Bytes += length;
        }

        return n;
    }

    /// <summary>
    /// Feeds <paramref name="port"/> for <paramref name="duration"/> (or until cancelled) at the
    /// profile's rate. Call from one thread: it is the port's wire side.
    /// </summary>
    public void Run(EmulatedPort port, TimeSpan duration, CancellationToken cancel)
    {
        ArgumentNullException.ThrowIfNull(port);
        Span<PacketRef> burst = stackalloc PacketRef[32];
        long start = Stopwatch.GetTimestamp();
        long end = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        long sent = 0;
        while (!cancel.IsCancellationRequested)
        {
            long now = Stopwatch.GetTimestamp();
            if (now >= end)
            {
                break;
            }

            int want = burst.Length;
            if (_profile.RatePps > 0)
            {
                long due = (long)((double)(now - start) / Stopwatch.Frequency * _profile.RatePps) - sent;
                if (due <= 0)
                {
                    // A slow paced generator sleeps until its next packet is due (a millisecond or
                    // more away) instead of spinning; at benchmark rates the gap is microseconds.
                    long gapTicks = Stopwatch.Frequency / _profile.RatePps;
                    if (gapTicks >= 2 * Stopwatch.Frequency / 1000)
                    {
                        long nextDue = start + (long)((sent + 1) * (double)Stopwatch.Frequency / _profile.RatePps);
                        Thread.Sleep((int)Math.Clamp((nextDue - now) * 1000 / Stopwatch.Frequency, 1, 100));
                    }
                    else
                    {
                        Thread.Yield();
                    }

                    continue;
                }

                want = (int)Math.Min(due, burst.Length);
            }

            int n = Fill(burst[..want]);
            if (n == 0)
            {
                Thread.Yield();
                continue;
            }

            port.Inject(burst[..n]);
            sent += n;
        }
    }

    private int WriteNext(Span<byte> frame)
    {
        int slot = _cursor;
        _cursor = _cursor + 1 == _flowIds.Length ? 0 : _cursor + 1;
        ulong id = _flowIds[slot];
        int step = _steps[slot]++;
        var flow = new FlowShape(id, _profile);
        int length = WritePacket(frame, in flow, step);
        if (step + 1 >= flow.TotalSteps)
        {
            _flowIds[slot] = _nextFlowId++;
            _steps[slot] = 0;
            FlowsStarted++;
            FlowsFinished++;
        }

        return length;
    }

    /// <summary>SplitMix64: a cheap, well-mixed hash from a flow id.</summary>
    internal static ulong Mix(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    private static void WriteMac(Span<byte> dst, byte kind, ulong value)
    {
        dst[0] = 0x02; // locally administered, unicast
        dst[1] = kind;
        BinaryPrimitives.WriteUInt32BigEndian(dst[2..], (uint)value);
    }
}
