using SnicRuntime.Firmware.Card;
using SnicRuntime.Hal.Board;
using SnicRuntime.Firmware.Boot;
using SnicRuntime.TestKit;
using Xunit;

namespace SnicRuntime.Tests.Hal.Board;

public class BoardFileTests
{
    public static IEnumerable<object[]> BoardFiles() =>
        Directory.GetFiles(TestPaths.BoardsDirectory, "*.json", SearchOption.AllDirectories)
            .Select(f => new object[] { Path.GetRelativePath(TestPaths.BoardsDirectory, f) });

    [Theory]
    [MemberData(nameof(BoardFiles))]
    public void Every_board_file_is_valid(string relativePath)
    {
        BoardDefinition b = BoardLoader.Load(Path.Combine(TestPaths.BoardsDirectory, relativePath));
        Assert.Equal(Path.GetFileNameWithoutExtension(relativePath), b.Id);
        Assert.NotEmpty(b.Sources);
    }

    [Fact]
    public void The_emulated_board_exists()
    {
        Assert.Contains(BoardFiles(), f => (string)f[0] == Path.Combine("emulated", "emulated.json"));
    }

    [Fact]
    public void A_bad_board_lists_every_error_with_its_json_path()
    {
        const string json = """
            {
              "id": "bad board", "vendor": "", "model": "x",
              "cpu": { "architecture": "mips", "dataplaneCores": 0 },
              "memory": { "totalMiB": 1, "packetBuffers": 10 },
              "ports": [ { "name": "p", "speedGbps": 10 }, { "name": "p", "speedGbps": 0 } ],
              "queues": { "rxDepth": 100, "txDepth": 1024 },
              "hal": { "driver": "magic" },
              "runtimeIdentifier": "win-x64",
              "supported": []
            }
            """;
        var e = Assert.Throws<BoardException>(() => BoardLoader.Parse(json, "bad.json"));
        string all = string.Join("\n", e.Errors);
        foreach (string path in new[] { "$.id", "$.vendor", "$.cpu.architecture", "$.cpu.dataplaneCores", "$.ports[1].name",
                     "$.ports[1].speedGbps", "$.queues.rxDepth", "$.memory.packetBuffers", "$.hal.driver", "$.runtimeIdentifier", "$.supported" })
        {
            Assert.Contains(path + ":", all);
        }
    }

    [Theory]
    [InlineData("{", "$")]
    [InlineData("""{ "id": "x", "cpuu": {} }""", "cpuu")]
    [InlineData("""{ "cpu": { "dataplaneCores": "two" } }""", "$.cpu.dataplaneCores")]
    public void Broken_json_is_a_clear_error_not_a_crash(string json, string mentions)
    {
        var e = Assert.Throws<BoardException>(() => BoardLoader.Parse(json, "broken.json"));
        Assert.Contains(mentions, e.Message);
    }
}

[Collection("console")]
public class BoardCatalogTests
{
    [Theory]
    [InlineData("nvidia/bluefield-2.json", "arm64", "dpdk")]
    [InlineData("nvidia/bluefield-3.json", "arm64", "dpdk")]
    [InlineData("amd/pensando-dsc2-200.json", "arm64", "dpdk")]
    [InlineData("intel/ipu-e2100.json", "arm64", "dpdk")]
    [InlineData("marvell/octeon-10-cn106xx.json", "arm64", "dpdk")]
    [InlineData("qemu/qemu-x64.json", "x86-64", "afpacket")]
    [InlineData("qemu/qemu-arm64.json", "arm64", "afpacket")]
    [InlineData("emulated/emulated.json", "x86-64", "emulated")]
    public void Every_board_of_the_catalog_is_there_with_its_architecture_and_driver(string file, string architecture, string driver)
    {
        BoardDefinition b = BoardLoader.Load(Path.Combine(TestPaths.BoardsDirectory, file));
        Assert.Equal(architecture, b.Cpu.Architecture);
        Assert.Equal(driver, b.Hal.Driver);
        Assert.Equal(architecture == "arm64" ? "linux-arm64" : "linux-x64", b.RuntimeIdentifier);
        Assert.All(b.Sources, s => Assert.True(s.Length > 20, $"{file}: a source must say where a fact comes from"));
    }

    [Fact]
    public void Unknown_capabilities_and_foreign_instruction_sets_are_errors()
    {
        BoardDefinition b = BoardLoader.Load(Path.Combine(TestPaths.BoardsDirectory, "qemu", "qemu-x64.json"));
        b.Supported = ["afpacket", "teleport"];
        b.Cpu.InstructionSet = "armv8.2-a";
        string all = string.Join("\n", BoardLoader.Validate(b));
        Assert.Contains("$.supported[1]: 'teleport' is not a known capability", all);
        Assert.Contains("$.cpu.instructionSet: 'armv8.2-a' is not one of x86-x64-v2", all);

        b.Supported = ["flash-ab"];
        b.Cpu.InstructionSet = null;
        Assert.Contains(BoardLoader.Validate(b), e => e.Contains("uses driver 'afpacket' but does not list 'afpacket'", StringComparison.Ordinal));
    }

    private static SystemFacts Facts(int cpus = 2, long availableMiB = 20_000, params string[] interfaces) => new()
    {
        Architecture = "x86-64",
        OnlineCpus = cpus,
        AvailableMiB = availableMiB,
        InterfaceExists = interfaces.Contains,
        DriverMissing = d => d is "emulated" or "afpacket" or "pcap" ? null : "not built into this firmware (a test stand-in)",
    };

    [Fact]
    public void The_firmware_names_everything_a_real_dpu_board_needs_that_this_system_lacks()
    {
        BoardDefinition bf3 = BoardLoader.Load(Path.Combine(TestPaths.BoardsDirectory, "nvidia", "bluefield-3.json"));
        List<string> missing = BoardRequirements.Missing(bf3, bf3.Cpu.DataplaneCores, Facts());
        Assert.Contains(missing, m => m.StartsWith("arm64 cores: this firmware was built for x86-64; build the image for linux-arm64", StringComparison.Ordinal));
        Assert.Contains(missing, m => m.StartsWith("HAL driver 'dpdk': not built into this firmware", StringComparison.Ordinal));
        Assert.Contains(missing, m => m.StartsWith("15 dataplane cores: this system has 2 CPUs online", StringComparison.Ordinal));
        Assert.Equal(3, missing.Count);
    }

    [Fact]
    public void An_afpacket_board_needs_its_interfaces_and_memory_for_its_pool()
    {
        BoardDefinition q = BoardLoader.Load(Path.Combine(TestPaths.BoardsDirectory, "qemu", "qemu-x64.json"));
        Assert.Empty(BoardRequirements.Missing(q, 1, Facts(2, 20_000, "eth1", "eth2")));
        List<string> missing = BoardRequirements.Missing(q, 1, Facts(2, 4, "eth1"));
        Assert.Contains("network interface 'eth2': not present on this system", missing);
        Assert.Contains(missing, m => m.Contains("MiB for 8192 packet buffers: 4 MiB of memory is available", StringComparison.Ordinal));
        Assert.Equal(2, missing.Count);
        var e = Assert.Throws<SnicRuntime.Firmware.Card.BoardNotSupportedException>(() => BoardRequirements.Check(q, 1, Facts(2, 20_000)));
        Assert.Contains("board 'qemu-x64' cannot run here", e.Message);
    }

    [Fact]
    public void The_firmware_refuses_a_board_it_cannot_run_with_exit_code_3()
    {
        string bf2 = Path.Combine(TestPaths.BoardsDirectory, "nvidia", "bluefield-2.json");
        Assert.Equal(3, SnicRuntime.Firmware.Boot.Program.Main(["--board", bf2, "--seconds", "1"]));
    }
}
