using System.Numerics;
using System.Text.Json;

namespace SnicRuntime.Hal.Board;

/// <summary>A board file that cannot be used; <see cref="Errors"/> lists every problem with its JSON path.</summary>
public sealed class BoardException(string file, IReadOnlyList<string> errors)
    : Exception($"board file {file}: " + string.Join("; ", errors))
{
    public string File { get; } = file;

    public IReadOnlyList<string> Errors { get; } = errors;
}

/// <summary>Reads and validates board files. Every error is reported, not just the first.</summary>
public static class BoardLoader
{
    public static readonly string[] KnownArchitectures = ["x86-64", "arm64"];
    public static readonly string[] KnownRuntimeIdentifiers = ["linux-x64", "linux-arm64"];
    public static readonly string[] KnownX64InstructionSets = ["x86-x64-v2", "x86-x64-v3", "x86-x64-v4"];
    public static readonly string[] KnownArm64InstructionSets = ["armv8-a", "armv8.1-a", "armv8.2-a", "armv8.3-a", "armv8.4-a", "armv8.5-a", "armv8.6-a"];

    /// <summary>
    /// The capability vocabulary of <see cref="BoardDefinition.Supported"/>: tests and the firmware
    /// decide what can run on a board from these names, so an unknown one is an error, not a no-op.
    /// </summary>
    public static readonly string[] KnownCapabilities =
    [
        "emulated-io",       // in-memory queues (the emulated HAL driver)
        "shm-io",            // shared-memory wires to a fabric process (the shm HAL driver)
        "traffic-generator", // the firmware can generate its own demo traffic
        "afpacket",          // Linux interfaces through AF_PACKET
        "pcap",              // capture files as ports
        "dpdk",              // ports through DPDK poll-mode drivers
        "vhost-user",        // the card as a vhost-user (virtio-net) backend
        "rss-symmetric",     // both directions of a flow reach the same queue
        "multi-queue",       // one rx/tx queue pair per worker on every port
        "ha",                // can join an HA pair (a sync link to a peer card)
        "flash-ab",          // two firmware slots with rollback (snicctl flash)
        "qemu-boot",         // boots as a QEMU virtual machine (snicctl qemu run)
        "crypto-offload",    // AES-GCM in the NIC for the HA channel
        "hw-flow-offload",   // the NIC can cache flows in hardware
    ];

    public static BoardDefinition Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BoardException(path, [$"cannot be read: {e.Message}"]);
        }

        return Parse(text, path);
    }

    public static BoardDefinition Parse(string json, string name = "board")
    {
        BoardDefinition? board;
        try
        {
            board = JsonSerializer.Deserialize(json, BoardJsonContext.Default.BoardDefinition);
        }
        catch (JsonException e)
        {
            throw new BoardException(name, [$"{e.Path ?? "$"}: {e.Message}"]);
        }

        if (board is null)
        {
            throw new BoardException(name, ["$: the document is null"]);
        }

        List<string> errors = Validate(board);
        if (errors.Count > 0)
        {
            throw new BoardException(name, errors);
        }

        return board;
    }

    public static List<string> Validate(BoardDefinition b)
    {
        ArgumentNullException.ThrowIfNull(b);
        var e = new List<string>();
        if (string.IsNullOrWhiteSpace(b.Id) || !b.Id.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
        {
            e.Add($"$.id: '{b.Id}' must be a non-empty name of letters, digits and '-'");
        }

        Require(e, "$.vendor", b.Vendor);
        Require(e, "$.model", b.Model);
        if (!KnownArchitectures.Contains(b.Cpu.Architecture))
        {
            e.Add($"$.cpu.architecture: '{b.Cpu.Architecture}' is not one of {string.Join(", ", KnownArchitectures)}");
        }

        if (b.Cpu.DataplaneCores is < 1 or > 256)
        {
            e.Add($"$.cpu.dataplaneCores: {b.Cpu.DataplaneCores} is outside 1..256");
        }

        if (b.Ports.Count is 0 or > 64)
        {
            e.Add($"$.ports: a board has 1..64 ports, this one lists {b.Ports.Count}");
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < b.Ports.Count; i++)
        {
            BoardPort p = b.Ports[i];
            if (string.IsNullOrWhiteSpace(p.Name))
            {
                e.Add($"$.ports[{i}].name: empty");
            }
            else if (!names.Add(p.Name))
            {
                e.Add($"$.ports[{i}].name: '{p.Name}' is used by another port");
            }

            if (p.SpeedGbps is < 1 or > 1600)
            {
                e.Add($"$.ports[{i}].speedGbps: {p.SpeedGbps} is outside 1..1600");
            }
        }

        CheckDepth(e, "$.queues.rxDepth", b.Queues.RxDepth);
        CheckDepth(e, "$.queues.txDepth", b.Queues.TxDepth);
        if (b.Queues.Burst is < 1 or > 256)
        {
            e.Add($"$.queues.burst: {b.Queues.Burst} is outside 1..256");
        }

        if (b.Memory.BufferHeadroom is < 64 or > 1024)
        {
            e.Add($"$.memory.bufferHeadroom: {b.Memory.BufferHeadroom} is outside 64..1024 (encapsulation needs room in front)");
        }

        if (b.Memory.BufferDataRoom is < 1518 or > 16384)
        {
            e.Add($"$.memory.bufferDataRoom: {b.Memory.BufferDataRoom} is outside 1518..16384");
        }

        // Every rx ring must be fillable and there must be buffers left to receive into.
        long needed = (long)b.Ports.Count * Math.Max(1, b.Cpu.DataplaneCores) * Math.Max(0, b.Queues.RxDepth) + 1024;
        if (b.Memory.PacketBuffers < needed || b.Memory.PacketBuffers > (1 << 24))
        {
            e.Add($"$.memory.packetBuffers: {b.Memory.PacketBuffers} must be between {needed} (ports × cores × rxDepth + 1024) and 16777216");
        }

        if (b.Memory.TotalMiB < 1)
        {
            e.Add($"$.memory.totalMiB: {b.Memory.TotalMiB} must be positive");
        }

        // The driver checks its own arguments (each driver's folder knows what it takes).
        HalDriver? driver = HalDrivers.Find(b.Hal.Driver);
        if (driver is null)
        {
            e.Add($"$.hal.driver: '{b.Hal.Driver}' is not one of {string.Join(", ", HalDrivers.Names)}");
        }
        else
        {
            driver.ValidateBoard(b, e);
        }

        if (!KnownRuntimeIdentifiers.Contains(b.RuntimeIdentifier))
        {
            e.Add($"$.runtimeIdentifier: '{b.RuntimeIdentifier}' is not one of {string.Join(", ", KnownRuntimeIdentifiers)}");
        }
        else if ((b.RuntimeIdentifier == "linux-arm64") != (b.Cpu.Architecture == "arm64"))
        {
            e.Add($"$.runtimeIdentifier: '{b.RuntimeIdentifier}' does not match cpu.architecture '{b.Cpu.Architecture}'");
        }

        if (b.Cpu.InstructionSet is string isa)
        {
            string[] known = b.Cpu.Architecture == "arm64" ? KnownArm64InstructionSets : KnownX64InstructionSets;
            if (Array.IndexOf(known, isa) < 0)
            {
                e.Add($"$.cpu.instructionSet: '{isa}' is not one of {string.Join(", ", known)} for {b.Cpu.Architecture}");
            }
        }

        long poolMiB = (long)b.Memory.PacketBuffers * (b.Memory.BufferDataRoom + b.Memory.BufferHeadroom + 64) >> 20;
        if (b.Memory.TotalMiB > 0 && poolMiB > b.Memory.TotalMiB / 2)
        {
            e.Add($"$.memory.packetBuffers: the pool takes {poolMiB} MiB, more than half of the board's {b.Memory.TotalMiB} MiB");
        }

        if (b.Supported.Count == 0)
        {
            e.Add("$.supported: lists no capabilities");
        }

        for (int i = 0; i < b.Supported.Count; i++)
        {
            if (Array.IndexOf(KnownCapabilities, b.Supported[i]) < 0)
            {
                e.Add($"$.supported[{i}]: '{b.Supported[i]}' is not a known capability ({string.Join(", ", KnownCapabilities)})");
            }
        }

        // The capability of the board's own driver must be listed: tests pick boards by it.
        if (HalDrivers.Find(b.Hal.Driver) is HalDriver d && !b.Supported.Contains(d.Capability))
        {
            e.Add($"$.supported: the board uses driver '{b.Hal.Driver}' but does not list '{d.Capability}'");
        }

        return e;
    }

    private static void Require(List<string> e, string path, string value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            e.Add($"{path}: empty");
        }
    }

    private static void CheckDepth(List<string> e, string path, int depth)
    {
        if (depth is < 64 or > 65536 || !BitOperations.IsPow2(depth))
        {
            e.Add($"{path}: {depth} must be a power of two in 64..65536");
        }
    }
}
