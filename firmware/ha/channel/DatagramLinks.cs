using System.Net;
using System.Net.Sockets;

namespace SnicRuntime.Firmware.Ha.Channel;

/// <summary>
/// An unreliable datagram path between two cards: what the replication channel and the liveness
/// probe run over. Non-blocking both ways; never throws for a peer that is down.
/// </summary>
public interface IDatagramLink : IDisposable
{
    /// <summary>Sends one datagram; false when the path refused it (counted by the caller, like a loss).</summary>
    bool Send(ReadOnlySpan<byte> datagram);

    /// <summary>Copies the next waiting datagram into <paramref name="buffer"/>; its length, or 0 when none waits.</summary>
    int Receive(Span<byte> buffer);
}

/// <summary>
/// UDP between the cards. Why UDP and not TCP: the channel does its own sequencing, acks and
/// retransmission, so a lost datagram delays only the frames behind it in the receive window
/// rather than stalling a byte stream; the same socket style serves the BFD-like probe, whose
/// point is to notice loss, not hide it; and a fault-injecting link with the same interface makes
/// every loss, duplicate and reorder reproducible in tests.
/// </summary>
public sealed class UdpLink : IDatagramLink
{
    private readonly Socket _socket;
    private readonly SocketAddress _peer;
    private readonly SocketAddress _from;

    public UdpLink(IPEndPoint local, IPEndPoint peer)
    {
        ArgumentNullException.ThrowIfNull(local);
        ArgumentNullException.ThrowIfNull(peer);
        _socket = new Socket(local.AddressFamily, SocketType.Dgram, ProtocolType.Udp) { Blocking = false };
        // Bursts of frames during bulk sync: a few MB of socket buffer keeps the kernel from
        // dropping what the channel would have to retransmit.
        _socket.ReceiveBufferSize = 8 << 20;
        _socket.SendBufferSize = 8 << 20;
        _socket.Bind(local);
        LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        _peer = peer.Serialize();
        _from = new SocketAddress(local.AddressFamily);
    }

    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Datagrams from an address other than the peer's (ignored, counted).</summary>
    public long StrangerDatagrams { get; private set; }

    public bool Send(ReadOnlySpan<byte> datagram)
    {
        try
        {
            return _socket.SendTo(datagram, SocketFlags.None, _peer) == datagram.Length;
        }
        catch (SocketException)
        {
            return false; // buffer full, peer port closed (ICMP): a loss the channel recovers from
        }
    }

    public int Receive(Span<byte> buffer)
    {
        while (true)
        {
            int n;
            try
            {
                if (_socket.Available == 0)
                {
                    return 0;
                }

                n = _socket.ReceiveFrom(buffer, SocketFlags.None, _from);
            }
            catch (SocketException)
            {
                return 0; // ICMP unreachable from an earlier send, or a datagram larger than the buffer
            }

            if (_from.Equals(_peer))
            {
                return n;
            }

            StrangerDatagrams++;
        }
    }

    public void Dispose() => _socket.Dispose();
}
