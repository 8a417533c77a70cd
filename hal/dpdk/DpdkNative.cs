using SnicRuntime.Hal.Board;
using System.Runtime.InteropServices;

namespace SnicRuntime.Hal.Dpdk;

/// <summary>A DPDK setup failure or a missing DPDK, with the reason in plain words.</summary>
public sealed class DpdkException(string message) : HalException(message);

/// <summary>
/// The C shim (hal/dpdk/shim/snic_dpdk.c, libsnic_dpdk.so), loaded explicitly so a missing shim
/// or libdpdk is one clear sentence, and called through unmanaged function pointers: one direct
/// call per burst, no marshalling stub, nothing allocated.
/// </summary>
internal static unsafe class DpdkNative
{
    public const string Library = "libsnic_dpdk.so";

    private static nint s_handle;

    public static delegate* unmanaged<int, byte**, byte*, int, int> Init;
    public static delegate* unmanaged<byte*, int> PortByName;
    public static delegate* unmanaged<ushort, ushort, ushort, ushort, nint, byte*, int, int> PortStart;

    // The burst calls and the pool's alloc/free skip the GC transition: poll-mode calls are short
    // and never block, and per-burst transitions would cost more than the call itself at 32 frames.
    public static delegate* unmanaged[SuppressGCTransition]<ushort, ushort, PacketHeader**, ushort, ushort, ulong*, ushort> Rx;
    public static delegate* unmanaged[SuppressGCTransition]<ushort, ushort, PacketHeader**, ushort, ushort> Tx;
    public static delegate* unmanaged<byte*, uint, uint, ushort, byte**, byte**, uint*, byte*, int, nint> PoolCreate;
    public static delegate* unmanaged[SuppressGCTransition]<nint, PacketHeader**, int, ushort, int> Alloc;
    public static delegate* unmanaged[SuppressGCTransition]<PacketHeader**, int, void> Free;
    public static delegate* unmanaged<nint, int> PoolAvailable;
    public static delegate* unmanaged<nint, void> PoolFree;
    public static delegate* unmanaged<ushort, int> LinkUp;
    public static delegate* unmanaged<ushort, int, int> SetLink;
    public static delegate* unmanaged<ushort, ulong*, int> Stats;
    public static delegate* unmanaged<ushort, ushort, int> RxDepth;
    public static delegate* unmanaged<ushort, void> PortStop;

    /// <summary>Where the shim is looked for: $SNIC_DPDK_SHIM, beside the program, then the build's own output.</summary>
    public static IEnumerable<string> Candidates()
    {
        if (Environment.GetEnvironmentVariable("SNIC_DPDK_SHIM") is string env)
        {
            yield return env;
        }

        yield return Path.Combine(AppContext.BaseDirectory, Library);
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string built = Path.Combine(d.FullName, "hal", "dpdk", "shim", "out", Library);
            if (File.Exists(built))
            {
                yield return built;
                break;
            }
        }
    }

    /// <summary>Loads the shim once; throws <see cref="DpdkException"/> saying what is missing.</summary>
    public static void Load()
    {
        if (s_handle != 0)
        {
            return;
        }

        var tried = new List<string>();
        foreach (string path in Candidates())
        {
            tried.Add(path);
            if (File.Exists(path) && NativeLibrary.TryLoad(path, out nint handle))
            {
                Bind(handle);
                s_handle = handle;
                return;
            }
        }

        throw new DpdkException($"the DPDK driver's shim {Library} is not built or cannot load (looked at {string.Join(", ", tried)}); " +
            "it is built by hal/dpdk/shim/build.sh when the system has libdpdk (Debian: libdpdk-dev)");
    }

    private static void Bind(nint h)
    {
        Init = (delegate* unmanaged<int, byte**, byte*, int, int>)NativeLibrary.GetExport(h, "snic_dpdk_init");
        PortByName = (delegate* unmanaged<byte*, int>)NativeLibrary.GetExport(h, "snic_dpdk_port_by_name");
        PortStart = (delegate* unmanaged<ushort, ushort, ushort, ushort, nint, byte*, int, int>)NativeLibrary.GetExport(h, "snic_dpdk_port_start");
        Rx = (delegate* unmanaged[SuppressGCTransition]<ushort, ushort, PacketHeader**, ushort, ushort, ulong*, ushort>)NativeLibrary.GetExport(h, "snic_dpdk_rx");
        Tx = (delegate* unmanaged[SuppressGCTransition]<ushort, ushort, PacketHeader**, ushort, ushort>)NativeLibrary.GetExport(h, "snic_dpdk_tx");
        PoolCreate = (delegate* unmanaged<byte*, uint, uint, ushort, byte**, byte**, uint*, byte*, int, nint>)NativeLibrary.GetExport(h, "snic_dpdk_pool_create");
        Alloc = (delegate* unmanaged[SuppressGCTransition]<nint, PacketHeader**, int, ushort, int>)NativeLibrary.GetExport(h, "snic_dpdk_alloc");
        Free = (delegate* unmanaged[SuppressGCTransition]<PacketHeader**, int, void>)NativeLibrary.GetExport(h, "snic_dpdk_free");
        PoolAvailable = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(h, "snic_dpdk_pool_available");
        PoolFree = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(h, "snic_dpdk_pool_free");
        LinkUp = (delegate* unmanaged<ushort, int>)NativeLibrary.GetExport(h, "snic_dpdk_link_up");
        SetLink = (delegate* unmanaged<ushort, int, int>)NativeLibrary.GetExport(h, "snic_dpdk_set_link");
        Stats = (delegate* unmanaged<ushort, ulong*, int>)NativeLibrary.GetExport(h, "snic_dpdk_stats");
        RxDepth = (delegate* unmanaged<ushort, ushort, int>)NativeLibrary.GetExport(h, "snic_dpdk_rx_depth");
        PortStop = (delegate* unmanaged<ushort, void>)NativeLibrary.GetExport(h, "snic_dpdk_port_stop");
    }
}
