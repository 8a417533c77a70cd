using System.Runtime.InteropServices;
using System.Text;

namespace SnicRuntime.Hal.Dpdk;

/// <summary>
/// DPDK's environment abstraction layer, initialised once per process (DPDK allows no second
/// rte_eal_init) with the board's EAL arguments.
/// </summary>
public static unsafe class DpdkEal
{
    private static readonly object s_lock = new();
    private static string? s_arguments;

    /// <summary>Throws <see cref="DpdkException"/> saying what is missing when the shim (or libdpdk under it) cannot load.</summary>
    public static void EnsureShim() => DpdkNative.Load();

    /// <summary>Initialises the EAL with <paramref name="arguments"/> (whitespace-separated), or checks it already was with the same.</summary>
    public static void Init(string arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        lock (s_lock)
        {
            if (s_arguments is not null)
            {
                if (s_arguments != arguments)
                {
                    throw new DpdkException($"the DPDK EAL is already running with '{s_arguments}'; a process has one EAL");
                }

                return;
            }

            DpdkNative.Load();
            string[] argv = ["snic-firmware", .. arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
            var strings = new nint[argv.Length + 1];
            try
            {
                for (int i = 0; i < argv.Length; i++)
                {
                    strings[i] = Marshal.StringToCoTaskMemUTF8(argv[i]);
                }

                // rte_eal_init keeps pointers into argv for the life of the process (the strings are
                // not freed on success), and pins the calling thread to the main lcore: call it from
                // a thread of its own, so no thread of ours is pinned by it.
                string? failure = null;
                var thread = new Thread(() =>
                {
                    byte* error = stackalloc byte[256];
                    error[0] = 0;
                    fixed (nint* p = strings)
                    {
                        if (DpdkNative.Init(argv.Length, (byte**)p, error, 256) != 0)
                        {
                            failure = Marshal.PtrToStringUTF8((nint)error);
                        }
                    }
                }) { IsBackground = true, Name = "dpdk-eal-init" };
                thread.Start();
                thread.Join();
                if (failure is not null)
                {
                    throw new DpdkException($"DPDK EAL ({arguments}): {failure}");
                }

                s_arguments = arguments;
            }
            catch
            {
                foreach (nint s in strings)
                {
                    Marshal.FreeCoTaskMem(s);
                }

                throw;
            }
        }
    }

    /// <summary>True once <see cref="Init"/> has succeeded in this process.</summary>
    public static bool Running
    {
        get
        {
            lock (s_lock)
            {
                return s_arguments is not null;
            }
        }
    }

    internal static string Utf8Error(byte* error) => Marshal.PtrToStringUTF8((nint)error) ?? "";

    internal static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s + "\0");
}
