using SnicRuntime.Hal.Board;
using System.Runtime.InteropServices;
using static SnicRuntime.Hal.AfPacket.LinuxSockets;

namespace SnicRuntime.Hal.AfPacket;

/// <summary>Why an AF_PACKET port could not be opened, in plain words (interface missing, not root, ...).</summary>
public sealed class AfPacketException(string message) : HalException(message);

/// <summary>
/// A Linux network interface as a port: one AF_PACKET raw socket per queue, bound to the
/// interface, promiscuous, ignoring what this host itself sends, joined in a fanout group so the
/// kernel spreads flows over the queues by hash. Optionally inside a network namespace (the
/// sockets are made there and keep working from any thread).
/// </summary>
/// <remarks>
/// Bursts are recvmmsg/sendmmsg: one system call per burst. A memory-mapped TPACKET_V3 ring would
/// save the copy; this is the portable first step the contract tests and the veth integration
/// test run against.
/// </remarks>
public sealed unsafe class AfPacketPort : IPort
{
    private readonly AfPacketSocket[] _sockets;
    private readonly PacketPool _pool;

    private AfPacketPort(PortSpec spec, string interfaceName, AfPacketSocket[] sockets, PacketPool pool, int ifIndex)
    {
        Id = spec.Id;
        Name = spec.Name;
        InterfaceName = interfaceName;
        QueueCount = sockets.Length;
        IfIndex = ifIndex;
        _sockets = sockets;
        _pool = pool;
    }

    public int Id { get; }

    public string Name { get; }

    public string InterfaceName { get; }

    public int IfIndex { get; }

    public int QueueCount { get; }

    /// <summary>Up and running (carrier), from the interface's flags.</summary>
    public bool LinkUp => _sockets[0].InterfaceUp();

    /// <summary>The interface's MTU.</summary>
    public int Mtu => Query(SiocGIfMtu);

    public AfPacketRxQueue RxQueue(int queue) => new(_sockets[queue], _pool);

    public AfPacketTxQueue TxQueue(int queue) => new(_sockets[queue], _pool);

    /// <summary>Queue counters, with the frames the kernel dropped before we could take them as rx ring-full drops.</summary>
    public PortCounters ReadCounters()
    {
        PortCounters c = PortCounters.Sum(_sockets.Select(s => s.Rx).ToList(), _sockets.Select(s => s.Tx).ToList());
        return c with { RxRingFullDrops = c.RxRingFullDrops + _sockets.Sum(s => s.KernelDrops()) };
    }

    /// <summary>The kernel does not say how many frames wait in a socket without reading them.</summary>
    public int RxQueueDepth(int queue) => -1;

    /// <summary>System call failures other than "nothing now", "link down" and "buffer full" (with the last reason).</summary>
    public (long Count, string? Last) Errors()
    {
        long n = _sockets.Sum(s => s.OtherErrors);
        int last = _sockets.Select(s => s.LastError).FirstOrDefault(e => e != 0);
        return (n, last == 0 ? null : Error(last));
    }

    /// <summary>Opens <paramref name="interfaceName"/> (in network namespace <paramref name="netns"/> when given) with spec.QueueCount queues.</summary>
    /// <param name="rxRing">Receive through a TPACKET_V3 ring (default); false: recvmmsg.</param>
    public static AfPacketPort Open(PortSpec spec, PacketPool pool, string interfaceName, string? netns = null, int burst = 64, bool rxRing = true)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(pool);
        if (!OperatingSystem.IsLinux())
        {
            throw new AfPacketException("AF_PACKET is Linux only");
        }

        AfPacketPort? port = null;
        Exception? failure = null;
        void OpenHere()
        {
            try
            {
                port = OpenInCurrentNamespace(spec, pool, interfaceName, burst, rxRing);
            }
            catch (AfPacketException e)
            {
                failure = e;
            }
        }

        if (netns is null)
        {
            OpenHere();
        }
        else
        {
            // setns changes only the calling thread's namespace: do it on a thread of our own, so
            // no other code runs in the namespace; the sockets stay in it when the thread ends.
            var thread = new Thread(() =>
            {
                int target = open(Path.Combine("/var/run/netns", netns), 0x80000 /* O_CLOEXEC */);
                if (target < 0 || setns(target, CloneNewNet) != 0)
                {
                    failure = new AfPacketException($"cannot enter network namespace '{netns}': {Error(Marshal.GetLastPInvokeError())}");
                    if (target >= 0)
                    {
                        close(target);
                    }

                    return;
                }

                close(target);
                OpenHere();
            }) { IsBackground = true, Name = "afpacket-netns" };
            thread.Start();
            thread.Join();
        }

        return port ?? throw failure ?? new AfPacketException("AF_PACKET port did not open");
    }

    private static AfPacketPort OpenInCurrentNamespace(PortSpec spec, PacketPool pool, string interfaceName, int burst, bool rxRing)
    {
        uint ifIndex = if_nametoindex(interfaceName);
        if (ifIndex == 0)
        {
            throw new AfPacketException($"no network interface named '{interfaceName}'");
        }

        var sockets = new AfPacketSocket[spec.QueueCount];
        int group = Environment.ProcessId & 0xFFFF ^ (int)ifIndex;
        try
        {
            for (int q = 0; q < sockets.Length; q++)
            {
                int fd = socket(LinuxSockets.AfPacket, SockRaw | SockNonBlock | SockCloExec, HostToNetwork(EthPAll));
                if (fd < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    throw new AfPacketException($"cannot open an AF_PACKET socket: {Error(errno)}{(errno == 1 ? " (needs root or CAP_NET_RAW)" : "")}");
                }

                AfPacketRing? ring = null;
                try
                {
                    ring = rxRing ? AfPacketRing.Create(fd, spec.RxDepth, interfaceName) : null; // before bind, as the kernel wants
                }
                catch
                {
                    close(fd);
                    throw;
                }

                sockets[q] = new AfPacketSocket(fd, burst, Math.Max(1, spec.TxDepth), interfaceName, ring);
                Configure(fd, (int)ifIndex, interfaceName, sockets.Length > 1 ? group : -1);
            }
        }
        catch
        {
            foreach (AfPacketSocket? s in sockets)
            {
                s?.Dispose();
            }

            throw;
        }

        return new AfPacketPort(spec, interfaceName, sockets, pool, (int)ifIndex);
    }

    private static void Configure(int fd, int ifIndex, string name, int fanoutGroup)
    {
        int one = 1;
        // Frames this host sends on the interface are not ours to receive (Linux 4.20+; older
        // kernels refuse the option and we receive them, which the caller can tell by MAC).
        setsockopt(fd, SolPacket, PacketIgnoreOutgoing, &one, sizeof(int));
        int buffer = 4 << 20;
        setsockopt(fd, SolSocket, SoRcvBuf, &buffer, sizeof(int));
        setsockopt(fd, SolSocket, SoSndBuf, &buffer, sizeof(int));
        var address = new SockAddrLl { Family = LinuxSockets.AfPacket, Protocol = HostToNetwork(EthPAll), IfIndex = ifIndex };
        if (bind(fd, &address, sizeof(SockAddrLl)) != 0)
        {
            throw new AfPacketException($"cannot bind to '{name}': {Error(Marshal.GetLastPInvokeError())}");
        }

        var promisc = new PacketMreq { IfIndex = ifIndex, Type = PacketMrPromisc };
        if (setsockopt(fd, SolPacket, PacketAddMembership, &promisc, sizeof(PacketMreq)) != 0)
        {
            throw new AfPacketException($"cannot make '{name}' promiscuous: {Error(Marshal.GetLastPInvokeError())}");
        }

        if (fanoutGroup >= 0)
        {
            int fanout = fanoutGroup | (FanoutHash << 16);
            if (setsockopt(fd, SolPacket, PacketFanout, &fanout, sizeof(int)) != 0)
            {
                throw new AfPacketException($"cannot join a fanout group on '{name}': {Error(Marshal.GetLastPInvokeError())}");
            }
        }
    }

    private int Query(uint request)
    {
        var req = new IfReq();
        byte[] name = System.Text.Encoding.ASCII.GetBytes(InterfaceName);
        for (int i = 0; i < Math.Min(15, name.Length); i++)
        {
            req.Name[i] = name[i];
        }

        return ioctl(_sockets[0].Fd, request, &req) == 0 ? req.Value : 0;
    }

    public void Dispose()
    {
        foreach (AfPacketSocket s in _sockets)
        {
            s.Dispose();
        }
    }
}
