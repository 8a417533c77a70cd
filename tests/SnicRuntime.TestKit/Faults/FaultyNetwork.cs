using SnicRuntime.Firmware.Ha.Channel;

namespace SnicRuntime.TestKit.Faults;

/// <summary>What a <see cref="FaultyNetwork"/> does to datagrams; change it at any time.</summary>
public sealed class FaultPlan
{
    public double DropRate { get; set; }
    public double DuplicateRate { get; set; }
    /// <summary>Share of datagrams held back by a random extra delay up to <see cref="ReorderWindowMs"/>, so later ones overtake them.</summary>
    public double ReorderRate { get; set; }
    public long ReorderWindowMs { get; set; } = 5;
    public long DelayMs { get; set; }
    /// <summary>While set, nothing crosses in either direction.</summary>
    public bool Partitioned { get; set; }
}

/// <summary>
/// A deterministic fault-injecting network between two endpoints, for tests and the HA
/// benchmarks: drop, duplicate, reorder, delay, partition and heal, all decided by one seeded
/// random generator and a clock the caller owns, so a failing schedule replays exactly from its
/// seed.
/// </summary>
public sealed class FaultyNetwork
{
    private readonly Random _random;
    private readonly Func<long> _nowMs;
    private readonly Lock _gate = new();
    private readonly PriorityQueue<byte[], (long At, long Order)>[] _inFlight = [new(), new()];
    private long _order;

    public FaultyNetwork(int seed, Func<long> nowMs)
    {
        _random = new Random(seed);
        _nowMs = nowMs ?? throw new ArgumentNullException(nameof(nowMs));
        A = new FaultyLink(this, 0);
        B = new FaultyLink(this, 1);
    }

    public FaultPlan Faults { get; } = new();

    /// <summary>Endpoint A (sends to B).</summary>
    public FaultyLink A { get; }

    /// <summary>Endpoint B (sends to A).</summary>
    public FaultyLink B { get; }

    public long Sent { get; private set; }

    public long Dropped { get; private set; }

    public long Duplicated { get; private set; }

    public long Reordered { get; private set; }

    public void Send(int from, ReadOnlySpan<byte> datagram)
    {
        lock (_gate)
        {
            Sent++;
            FaultPlan f = Faults;
            if (f.Partitioned || _random.NextDouble() < f.DropRate)
            {
                Dropped++;
                return;
            }

            int copies = _random.NextDouble() < f.DuplicateRate ? 2 : 1;
            Duplicated += copies - 1;
            for (int i = 0; i < copies; i++)
            {
                long at = _nowMs() + f.DelayMs;
                if (_random.NextDouble() < f.ReorderRate)
                {
                    at += 1 + _random.NextInt64(Math.Max(1, f.ReorderWindowMs));
                    Reordered++;
                }

                _inFlight[1 - from].Enqueue(datagram.ToArray(), (at, _order++));
            }
        }
    }

    public int Receive(int to, Span<byte> buffer)
    {
        lock (_gate)
        {
            PriorityQueue<byte[], (long At, long Order)> q = _inFlight[to];
            while (q.TryPeek(out byte[]? d, out (long At, long Order) when) && when.At <= _nowMs())
            {
                q.Dequeue();
                if (Faults.Partitioned)
                {
                    Dropped++; // cut while in flight
                    continue;
                }

                d.CopyTo(buffer);
                return d.Length;
            }

            return 0;
        }
    }
}

/// <summary>One endpoint of a <see cref="FaultyNetwork"/>.</summary>
public sealed class FaultyLink : IDatagramLink
{
    private readonly FaultyNetwork _network;
    private readonly int _side;

    public FaultyLink(FaultyNetwork network, int side)
    {
        _network = network;
        _side = side;
    }

    public bool Send(ReadOnlySpan<byte> datagram)
    {
        _network.Send(_side, datagram);
        return true;
    }

    public int Receive(Span<byte> buffer) => _network.Receive(_side, buffer);

    public void Dispose()
    {
    }
}
