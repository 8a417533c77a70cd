using SnicRuntime.Hal.Board;
using System.Runtime.InteropServices;
using System.Text;
using static SnicRuntime.Hal.Virtio.VhostNative;

namespace SnicRuntime.Hal.Virtio;

/// <summary>
/// The vhost-user control channel (the DPU side of a virtio-net NIC): a Unix socket server that a
/// virtio driver (QEMU, or DPDK's virtio_user) connects to and describes its memory and rings with.
/// Runs on its own thread; the rings it sets up are polled by the workers (<see cref="VhostPort"/>).
/// Messages handled: features (GET/SET_FEATURES), SET_OWNER, RESET_OWNER, SET_MEM_TABLE (file
/// descriptors by SCM_RIGHTS, mapped here), SET_VRING_NUM/ADDR/BASE/KICK/CALL/ERR/ENABLE,
/// GET_VRING_BASE (stops a ring), GET_QUEUE_NUM, GET/SET_PROTOCOL_FEATURES; anything else is
/// counted and, where the driver wants a reply, acknowledged.
/// </summary>
public sealed unsafe partial class VhostUserBackend : IDisposable
{
    /// <summary>
    /// VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MRG_RXBUF (modern virtio, 12-byte net header, mergeable rx
    /// buffers) | VIRTIO_NET_F_MQ (a queue pair per worker; the driver side keeps the control queue
    /// that picks how many run, and enables their rings) | VHOST_USER_F_PROTOCOL_FEATURES (below).
    /// </summary>
    public const ulong Features = (1UL << 32) | (1UL << 15) | (1UL << 22) | ProtocolFeaturesBit;

    /// <summary>
    /// VHOST_USER_PROTOCOL_F_MQ (the spec asks every back-end for it: the driver learns the
    /// number of queue pairs) | VHOST_USER_PROTOCOL_F_REPLY_ACK.
    /// </summary>
    public const ulong ProtocolFeatures = (1UL << 0) | (1UL << 3);

    private const ulong ProtocolFeaturesBit = 1UL << 30;

    private const uint ReplyFlags = 0x1 | 0x4;
    private const uint NeedReply = 0x8;

    private readonly string _path;
    private readonly int _listen;
    private readonly Thread _thread;
    private volatile bool _stopping;
    private int _connection = -1;
    private VhostMemory? _memory;

    public VhostUserBackend(string socketPath, int queuePairs)
    {
        _path = socketPath;
        Queues = new SplitVirtqueue[2 * queuePairs];
        for (int i = 0; i < Queues.Length; i++)
        {
            Queues[i] = new SplitVirtqueue();
        }

        _listen = socket(AfUnix, SockStream | SockCloExec, 0);
        if (_listen < 0)
        {
            throw new VhostException($"cannot open a Unix socket: {Error(Marshal.GetLastPInvokeError())}");
        }

        File.Delete(socketPath);
        var address = new SockAddrUn { Family = AfUnix };
        byte[] p = Encoding.UTF8.GetBytes(socketPath);
        if (p.Length >= 108)
        {
            throw new VhostException($"socket path '{socketPath}' is longer than 107 bytes");
        }

        for (int i = 0; i < p.Length; i++)
        {
            address.Path[i] = p[i];
        }

        if (bind(_listen, &address, sizeof(SockAddrUn)) != 0 || listen(_listen, 1) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            _ = close(_listen);
            throw new VhostException($"cannot listen on '{socketPath}': {Error(errno)}");
        }

        _thread = new Thread(Serve) { IsBackground = true, Name = "vhost-user" };
        _thread.Start();
    }

    /// <summary>Virtqueues in virtio-net order: 2q is the driver's receive queue of pair q (we write), 2q+1 its transmit queue (we read).</summary>
    internal SplitVirtqueue[] Queues { get; }

    /// <summary>Messages of kinds this backend does not act on.</summary>
    public long Ignored { get; private set; }

    /// <summary>The features the driver accepted.</summary>
    public ulong Negotiated { get; private set; }

    /// <summary>The vhost-user protocol features the driver accepted.</summary>
    public ulong NegotiatedProtocol { get; private set; }

    public bool Connected => Volatile.Read(ref _connection) >= 0;

    /// <summary>Each ring's state, for diagnostics: ready, size, the driver's avail index, our last avail and used indices.</summary>
    public string DescribeRings() => string.Join("; ", Queues.Select((q, i) => q.Avail == null || !q.Ready ? $"vq{i}: not running (enabled {q.Enabled}, started {q.Started})"
        : $"vq{i}: ready {q.Ready} enabled {q.Enabled} size {q.Size} avail {*(ushort*)(q.Avail + 2)} last-avail {q.LastAvail} used {q.UsedIndex} call {q.CallFd >= 0}"));

    /// <summary>Why the last driver session ended badly, if it did.</summary>
    public string? LastError { get; private set; }


    private void Serve()
    {
        while (!_stopping)
        {
            int c = accept4(_listen, null, null, SockCloExec);
            if (c < 0)
            {
                if (_stopping)
                {
                    return;
                }

                Thread.Sleep(10);
                continue;
            }

            Volatile.Write(ref _connection, c);
            try
            {
                while (!_stopping && Handle(c))
                {
                }
            }
            catch (VhostException e)
            {
                LastError = e.Message; // the driver's session ends; the next connection starts afresh
            }
            finally
            {
                StopRings();
                foreach (SplitVirtqueue q in Queues)
                {
                    q.Enabled = false; // the next driver enables afresh
                }

                Volatile.Write(ref _connection, -1);
                _ = close(c);
            }
        }
    }

    // One message: header {u32 request, u32 flags, u32 size}, payload, and any fds attached.
    private bool Handle(int c)
    {
        byte* header = stackalloc byte[12];
        int* fds = stackalloc int[8];
        int fdCount = Receive(c, header, 12, fds);
        if (fdCount < 0)
        {
            return false;
        }

        uint request = *(uint*)header;

        uint flags = *(uint*)(header + 4);
        uint size = *(uint*)(header + 8);
        byte* payload = stackalloc byte[512];
        if (size > 512 || (size > 0 && Receive(c, payload, (int)size, null) < 0))
        {
            return false;
        }

        switch (request)
        {
            case 1: // GET_FEATURES
                Reply(c, request, Features);
                return true;
            case 2: // SET_FEATURES
                Negotiated = *(ulong*)payload;
                break;
            case 3: // SET_OWNER
            case 4: // RESET_OWNER
                break;
            case 16: // SET_PROTOCOL_FEATURES
                NegotiatedProtocol = *(ulong*)payload & ProtocolFeatures;
                break;
            case 5: // SET_MEM_TABLE
                SetMemory(payload, fds, fdCount);
                fdCount = 0;
                break;
            case 8: // SET_VRING_NUM: a power of two up to 32768 (virtio 1.x), taken with the ring stopped
            {
                SplitVirtqueue q = Queue(payload);
                uint num = *(uint*)(payload + 4);
                Stop(q);
                if (num == 0 || num > 32768 || (num & (num - 1)) != 0)
                {
                    throw new VhostException($"SET_VRING_NUM {num} is not a power of two in 1..32768");
                }

                q.Size = (int)num;
                break;
            }
            case 9: // SET_VRING_ADDR
                SetAddresses(payload);
                break;
            case 10: // SET_VRING_BASE
                Queue(payload).LastAvail = (ushort)*(uint*)(payload + 4);
                break;
            case 11: // GET_VRING_BASE: the driver stops the ring
            {
                SplitVirtqueue q = Queue(payload);
                Stop(q);
                q.Started = false; // a new kick starts it again
                ulong state = *(uint*)payload | ((ulong)q.LastAvail << 32);
                Reply(c, request, state);
                return true;
            }

            case 12: // SET_VRING_KICK: the ring starts (at once without protocol features; else once SET_VRING_ENABLE says so)
            {
                SplitVirtqueue q = Queues[(int)(*(ulong*)payload & 0xff) % Queues.Length];
                ReplaceFd(ref q.KickFd, fdCount > 0 ? fds[0] : -1);
                fdCount = 0;
                if (q.Desc != null && q.Avail != null && q.Used != null && q.Size > 0)
                {
                    q.Start();
                    q.Started = true;
                    // With protocol features the ring waits for SET_VRING_ENABLE; without, it runs now.
                    q.Ready = (Negotiated & ProtocolFeaturesBit) == 0 || q.Enabled;
                }

                break;
            }

            case 13: // SET_VRING_CALL
            {
                SplitVirtqueue q = Queues[(int)(*(ulong*)payload & 0xff) % Queues.Length];
                ReplaceFd(ref q.CallFd, fdCount > 0 ? fds[0] : -1);
                fdCount = 0;
                break;
            }

            case 15: // GET_PROTOCOL_FEATURES
                Reply(c, request, ProtocolFeatures);
                return true;
            case 17: // GET_QUEUE_NUM
                Reply(c, request, (ulong)(Queues.Length / 2));
                return true;
            case 18: // SET_VRING_ENABLE
            {
                SplitVirtqueue q = Queue(payload);
                q.Enabled = *(uint*)(payload + 4) != 0;
                if (!q.Enabled)
                {
                    Stop(q);
                }
                else if (q.Started)
                {
                    q.Ready = true;
                }

                break;
            }

            default: // SET_VRING_ERR (14) and requests we do not act on
                Ignored++;
                break;
        }

        for (int i = 0; i < fdCount; i++)
        {
            _ = close(fds[i]);
        }

        if ((flags & NeedReply) != 0)
        {
            Reply(c, request, 0); // REPLY_ACK: success
        }

        return true;
    }

    private SplitVirtqueue Queue(byte* state) => Queues[(int)(*(uint*)state % (uint)Queues.Length)];

    private void SetMemory(byte* payload, int* fds, int fdCount)
    {
        StopRings();
        _memory?.Dispose();
        int n = (int)*(uint*)payload;
        var regions = new VhostMemory.Region[Math.Min(n, fdCount)];
        for (int i = 0; i < regions.Length; i++)
        {
            byte* r = payload + 8 + (32 * i);
            ulong guest = *(ulong*)r, size = *(ulong*)(r + 8), user = *(ulong*)(r + 16), offset = *(ulong*)(r + 24);
            void* map = mmap(null, (nuint)(size + offset), ProtRead | ProtWrite, MapShared, fds[i], 0);
            _ = close(fds[i]);
            if (map == (void*)-1)
            {
                throw new VhostException($"cannot map the driver's memory region {i} ({size} bytes): {Error(Marshal.GetLastPInvokeError())}");
            }

            regions[i] = new VhostMemory.Region(guest, size, user, (byte*)map + offset, size + offset);
        }

        _memory = new VhostMemory(regions);
        foreach (SplitVirtqueue q in Queues)
        {
            q.Memory = _memory;
        }
    }

    private void SetAddresses(byte* payload)
    {
        SplitVirtqueue q = Queue(payload);
        Stop(q);
        VhostMemory m = _memory ?? throw new VhostException("SET_VRING_ADDR before SET_MEM_TABLE");
        q.Desc = m.FromUser(*(ulong*)(payload + 8));
        q.Used = m.FromUser(*(ulong*)(payload + 16));
        q.Avail = m.FromUser(*(ulong*)(payload + 24));
    }

    /// <summary>Takes a ring away from the worker: not ready, then wait until no burst is inside it.</summary>
    private static void Stop(SplitVirtqueue q)
    {
        q.Ready = false;
        SpinWait.SpinUntil(() => (Volatile.Read(ref q.InBurst) & 1) == 0, 1000);
    }

    private void StopRings()
    {
        foreach (SplitVirtqueue q in Queues)
        {
            Stop(q);
            q.Started = false;
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _ = shutdown(_listen, 2);
        _ = close(_listen);
        int c = Volatile.Read(ref _connection);
        if (c >= 0)
        {
            _ = shutdown(c, 2);
        }

        _thread.Join(2000);
        _memory?.Dispose();
        File.Delete(_path);
    }
}

/// <summary>A vhost-user setup failure, in plain words.</summary>
public sealed class VhostException(string message) : HalException(message);
