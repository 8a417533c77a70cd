using System.Buffers.Binary;
using System.Net.Sockets;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Virtio;
using Xunit;

namespace SnicRuntime.Tests.Hal.Virtio;

/// <summary>The vhost-user control channel against bad drivers: clear session ends, no crash, the next driver is served.</summary>
public sealed class VhostUserProtocolTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("snic-vhost-proto-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] Message(uint request, uint flags, ReadOnlySpan<byte> payload)
    {
        byte[] m = new byte[12 + payload.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(m, request);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(4), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(8), (uint)payload.Length);
        payload.CopyTo(m.AsSpan(12));
        return m;
    }

    private static Socket Connect(string path)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(path));
        s.ReceiveTimeout = 5000;
        return s;
    }

    [Fact]
    public void Features_are_offered_and_bad_messages_end_the_session_not_the_process()
    {
        using var pool = new PacketPool(256);
        string path = Path.Combine(_dir, "v.sock");
        using var port = new VhostPort(new PortSpec(0, "vm", 1, 256, 256, 10), pool, path);

        using (Socket s = Connect(path))
        {
            s.Send(Message(1, 1, [])); // GET_FEATURES
            byte[] reply = new byte[20];
            Assert.Equal(20, s.Receive(reply));
            Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(reply));
            Assert.Equal(0x5u, BinaryPrimitives.ReadUInt32LittleEndian(reply.AsSpan(4))); // version 1, reply
            Assert.Equal(VhostUserBackend.Features, BinaryPrimitives.ReadUInt64LittleEndian(reply.AsSpan(12)));

            byte[] ring = new byte[8];
            BinaryPrimitives.WriteUInt32LittleEndian(ring.AsSpan(4), 1000); // SET_VRING_NUM 1000: not a power of two
            s.Send(Message(8, 1, ring));
            Assert.Equal(0, s.Receive(new byte[1])); // the backend ends the session
        }

        Assert.True(SpinWait.SpinUntil(() => port.Backend.LastError is not null, 5000));
        Assert.Contains("SET_VRING_NUM 1000", port.Backend.LastError);

        using (Socket s = Connect(path))
        {
            s.Send(Message(5, 1, new byte[600])[..12]); // SET_MEM_TABLE announcing 600 bytes: over the limit
            Assert.Equal(0, s.Receive(new byte[1]));
        }

        using (Socket s = Connect(path)) // and the next driver is served as the first was
        {
            s.Send(Message(17, 1, [])); // GET_QUEUE_NUM
            byte[] reply = new byte[20];
            Assert.Equal(20, s.Receive(reply));
            Assert.Equal(1UL, BinaryPrimitives.ReadUInt64LittleEndian(reply.AsSpan(12)));
            s.Send(Message(99, 1 | 0x8, [])); // an unknown request wanting a reply: acknowledged
            Assert.Equal(20, s.Receive(reply));
            Assert.Equal(0UL, BinaryPrimitives.ReadUInt64LittleEndian(reply.AsSpan(12)));
        }

        Assert.False(port.LinkUp);
        Assert.Equal(0, port.TxQueue(0).TxBurst(new PacketRef[1])); // no driver rings: a counted refusal
        Assert.Equal(1, port.ReadCounters().TxLinkDownDrops);
    }
}
