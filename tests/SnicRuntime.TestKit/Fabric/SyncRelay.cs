using System.Net;
using System.Net.Sockets;

namespace SnicRuntime.TestKit.Fabric;

/// <summary>
/// A UDP relay on the replication link between two card processes, so a run can cut it: card A
/// sends to <see cref="ReachB"/>, which the relay forwards to B from <see cref="ReachA"/>, and back
/// (each card hears its peer from the address it sends to, as its link requires). Pair the cards
/// with <c>--sync-a LA --sync-a-via ReachA --sync-b LB --sync-b-via ReachB</c>.
/// </summary>
public sealed class SyncRelay : IDisposable
{
    private readonly Socket _a; // bound at ReachA: talks to B
    private readonly Socket _b; // bound at ReachB: talks to A
    private readonly IPEndPoint _cardA, _cardB;
    private readonly Thread _thread;
    private volatile bool _stop;
    private volatile bool _cut;

    public SyncRelay(IPEndPoint cardA, IPEndPoint cardB)
    {
        _cardA = cardA;
        _cardB = cardB;
        _a = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        _b = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        _a.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _b.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _thread = new Thread(Run) { IsBackground = true, Name = "sync-relay" };
        _thread.Start();
    }

    /// <summary>Where card B reaches card A.</summary>
    public IPEndPoint ReachA => (IPEndPoint)_a.LocalEndPoint!;

    /// <summary>Where card A reaches card B.</summary>
    public IPEndPoint ReachB => (IPEndPoint)_b.LocalEndPoint!;

    /// <summary>Datagrams dropped while the link was cut.</summary>
    public long Dropped { get; private set; }

    public long Forwarded { get; private set; }

    /// <summary>Cuts the link both ways (true) or heals it.</summary>
    public void Cut(bool cut) => _cut = cut;

    private void Run()
    {
        var buffer = new byte[65536];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        var ready = new List<Socket>(2);
        while (!_stop)
        {
            Move(_b, _a, _cardB, buffer, ref from);
            Move(_a, _b, _cardA, buffer, ref from);
            // Wait for the next datagram on either side (not a spin: two cores are shared with the cards).
            ready.Clear();
            ready.Add(_a);
            ready.Add(_b);
            Socket.Select(ready, null, null, 1000);
        }
    }

    // What arrives on `inbound` goes out of `outbound` to `to`.
    private void Move(Socket inbound, Socket outbound, IPEndPoint to, byte[] buffer, ref EndPoint from)
    {
        while (inbound.Available > 0)
        {
            int n;
            try
            {
                n = inbound.ReceiveFrom(buffer, ref from);
            }
            catch (SocketException)
            {
                break;
            }

            if (_cut)
            {
                Dropped++;
                continue;
            }

            try
            {
                outbound.SendTo(buffer.AsSpan(0, n), SocketFlags.None, to);
                Forwarded++;
            }
            catch (SocketException)
            {
                // the card is down (ICMP port unreachable): a loss its channel recovers from
            }
        }
    }

    public void Dispose()
    {
        _stop = true;
        _thread.Join();
        _a.Dispose();
        _b.Dispose();
    }
}
