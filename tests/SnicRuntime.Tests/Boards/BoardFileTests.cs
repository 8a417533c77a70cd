using SnicRuntime.Hal.Board;
using Xunit;

namespace SnicRuntime.Tests.Boards;

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
