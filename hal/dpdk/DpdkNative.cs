using System.Runtime.InteropServices;

namespace SnicRuntime.Hal.Dpdk;

/// <summary>A DPDK setup failure or a missing DPDK, with the reason in plain words.</summary>
public sealed class DpdkException(string message) : Exception(message);

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
    public static delegate* unmanaged<ushort, ushort, ushort, ushort, uint, byte*, int, int> PortStart;
    public static delegate* unmanaged<ushort, ushort, byte**, ushort*, ushort, ushort, ulong*, ushort> Rx;
    public static delegate* unmanaged<ushort, ushort, byte**, ushort*, ushort, ushort> Tx;
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
        PortStart = (delegate* unmanaged<ushort, ushort, ushort, ushort, uint, byte*, int, int>)NativeLibrary.GetExport(h, "snic_dpdk_port_start");
        Rx = (delegate* unmanaged<ushort, ushort, byte**, ushort*, ushort, ushort, ulong*, ushort>)NativeLibrary.GetExport(h, "snic_dpdk_rx");
        Tx = (delegate* unmanaged<ushort, ushort, byte**, ushort*, ushort, ushort>)NativeLibrary.GetExport(h, "snic_dpdk_tx");
        LinkUp = (delegate* unmanaged<ushort, int>)NativeLibrary.GetExport(h, "snic_dpdk_link_up");
        SetLink = (delegate* unmanaged<ushort, int, int>)NativeLibrary.GetExport(h, "snic_dpdk_set_link");
        Stats = (delegate* unmanaged<ushort, ulong*, int>)NativeLibrary.GetExport(h, "snic_dpdk_stats");
        RxDepth = (delegate* unmanaged<ushort, ushort, int>)NativeLibrary.GetExport(h, "snic_dpdk_rx_depth");
        PortStop = (delegate* unmanaged<ushort, void>)NativeLibrary.GetExport(h, "snic_dpdk_port_stop");
    }
}
