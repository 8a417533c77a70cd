using System.Text.Json.Serialization;

namespace SnicRuntime.Hal.Board;

/// <summary>A board file (boards/&lt;vendor&gt;/&lt;board&gt;.json): the hardware as data.</summary>
public sealed class BoardDefinition
{
    public string Id { get; set; } = "";

    public string Vendor { get; set; } = "";

    public string Model { get; set; } = "";

    /// <summary>Where the public facts in this file come from.</summary>
    public List<string> Sources { get; set; } = [];

    public BoardCpu Cpu { get; set; } = new();

    public BoardMemory Memory { get; set; } = new();

    public List<BoardPort> Ports { get; set; } = [];

    public BoardQueues Queues { get; set; } = new();

    public BoardHal Hal { get; set; } = new();

    public string RuntimeIdentifier { get; set; } = "";

    /// <summary>Capabilities tests and the firmware use to decide what can run on this board.</summary>
    public List<string> Supported { get; set; } = [];
}

public sealed class BoardCpu
{
    /// <summary>x86-64 or arm64.</summary>
    public string Architecture { get; set; } = "";

    public string Model { get; set; } = "";

    /// <summary>Cores the dataplane may use, one worker each.</summary>
    public int DataplaneCores { get; set; }

    /// <summary>
    /// The instruction set the image is compiled for (NativeAOT's IlcInstructionSet: x86-x64-v2,
    /// x86-x64-v3, armv8-a, armv8.2-a, ...); null: the build's default for the architecture.
    /// </summary>
    public string? InstructionSet { get; set; }
}

public sealed class BoardMemory
{
    public int TotalMiB { get; set; }

    public int PacketBuffers { get; set; }

    public int BufferDataRoom { get; set; } = PacketPool.DefaultDataRoom;

    public int BufferHeadroom { get; set; } = PacketPool.DefaultHeadroom;
}

public sealed class BoardPort
{
    public string Name { get; set; } = "";

    public int SpeedGbps { get; set; }

    /// <summary>Driver-specific name (an interface, a pcap path, a DPDK device), if any.</summary>
    public string? Device { get; set; }
}

public sealed class BoardQueues
{
    public int RxDepth { get; set; }

    public int TxDepth { get; set; }

    public int Burst { get; set; } = 32;
}

public sealed class BoardHal
{
    public string Driver { get; set; } = "";

    public Dictionary<string, string> Args { get; set; } = [];
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(BoardDefinition))]
internal sealed partial class BoardJsonContext : JsonSerializerContext;
