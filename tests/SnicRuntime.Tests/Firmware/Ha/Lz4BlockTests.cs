using SnicRuntime.Firmware.Ha.Channel;
using SnicRuntime.Firmware.Ha.Sync;
using System.Diagnostics;
using SnicRuntime.Firmware.Ha;
using SnicRuntime.TestKit;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Ha;

/// <summary>The replication channel's compression: LZ4 block format, checked against python3-lz4 (lz4.block) both ways, and safe on garbage.</summary>
public sealed class Lz4BlockTests
{
    private static byte[] Sample(int seed, int length)
    {
        var r = new Random(seed);
        var b = new byte[length];
        for (int i = 0; i < length; i++)
        {
            // Flow-record-like: runs of repeated fields with some noise.
            b[i] = r.Next(4) == 0 ? (byte)r.Next(256) : (byte)(i % 37);
        }

        return b;
    }

    [Fact]
    public void Round_trips_and_shrinks_repetitive_data()
    {
        var lz = new Lz4Block();
        foreach (int length in new[] { 0, 1, 12, 13, 100, 1000, 8192 })
        {
            byte[] data = Sample(length, length);
            var packed = new byte[Lz4Block.MaxCompressedLength(length)];
            Assert.True(lz.TryCompress(data, packed, out int n));
            var back = new byte[length];
            Assert.True(Lz4Block.TryDecompress(packed.AsSpan(0, n), back, out int m));
            Assert.Equal(data, back.AsSpan(0, m).ToArray());
        }

        // What the channel really compresses: a batch of flow records.
        var batch = new List<byte>();
        var buffer = new byte[64];
        for (uint f = 0; f < 200; f++)
        {
            var key = SnicRuntime.Firmware.Flows.FlowKeyV4.Create(3, 0x0A010100 + (f % 50), 0x0A010232, (ushort)(40000 + f), 443, 6, out _);
            var entry = new SnicRuntime.Firmware.Flows.FlowEntry { Action = 17, Generation = 4, Tcp = SnicRuntime.Firmware.Flows.TcpState.Handshake };
            int w = SyncRecord.Upsert(key, entry, key.RssHash()).Encode(buffer);
            batch.AddRange(buffer[..w]);
        }

        byte[] big = [.. batch];
        var p = new byte[Lz4Block.MaxCompressedLength(big.Length)];
        Assert.True(lz.TryCompress(big, p, out int size));
        Assert.True(size < big.Length * 3 / 4, $"{size} of {big.Length}");
        Assert.False(lz.TryCompress(big, new byte[100], out _)); // does not fit: refused, not overrun
    }

    [Fact]
    public void Malformed_blocks_are_refused_without_reading_or_writing_out_of_bounds()
    {
        var lz = new Lz4Block();
        byte[] data = Sample(3, 2000);
        var packed = new byte[Lz4Block.MaxCompressedLength(data.Length)];
        Assert.True(lz.TryCompress(data, packed, out int n));
        TestSeeds.Run(5, r =>
        {
            var output = new byte[4000];
            for (int i = 0; i < 5000; i++)
            {
                byte[] bad = packed[..n];
                for (int k = r.Next(1, 6); k > 0; k--)
                {
                    bad[r.Next(bad.Length)] = (byte)r.Next(256);
                }

                _ = Lz4Block.TryDecompress(r.Next(3) == 0 ? bad[..r.Next(bad.Length)] : bad, output, out _); // never throws
            }

            Assert.False(Lz4Block.TryDecompress(packed.AsSpan(0, n), new byte[10], out _)); // does not fit
            Assert.False(Lz4Block.TryDecompress([0x0F, 1, 0], output, out _)); // match with nothing before it
        });
    }

    [SkippableFact]
    public void Python_lz4_reads_ours_and_we_read_python_lz4s()
    {
        string python = "/usr/bin/python3";
        Skip.If(!File.Exists(python) || Run(python, "-c \"import lz4.block\"").Code != 0, "python3-lz4 is not installed (apt-get install python3-lz4); ./test.sh installs it");
        string dir = Directory.CreateTempSubdirectory("snic-lz4-").FullName;
        try
        {
            var lz = new Lz4Block();
            byte[] data = Sample(11, 8000);
            var packed = new byte[Lz4Block.MaxCompressedLength(data.Length)];
            Assert.True(lz.TryCompress(data, packed, out int n));
            File.WriteAllBytes(Path.Combine(dir, "ours.lz4"), packed[..n]);
            File.WriteAllBytes(Path.Combine(dir, "plain"), data);
            string script = $$"""
                import lz4.block, sys
                d = open('{{dir}}/plain', 'rb').read()
                ours = open('{{dir}}/ours.lz4', 'rb').read()
                assert lz4.block.decompress(ours, uncompressed_size=len(d)) == d, 'python-lz4 read ours differently'
                open('{{dir}}/theirs.lz4', 'wb').write(lz4.block.compress(d, store_size=False))
                print('ok')
                """;
            File.WriteAllText(Path.Combine(dir, "check.py"), script);
            var (code, output) = Run(python, Path.Combine(dir, "check.py"));
            Assert.True(code == 0, output);
            byte[] theirs = File.ReadAllBytes(Path.Combine(dir, "theirs.lz4"));
            var back = new byte[data.Length];
            Assert.True(Lz4Block.TryDecompress(theirs, back, out int m));
            Assert.Equal(data, back[..m]);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static (int Code, string Output) Run(string file, string args)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using Process p = Process.Start(psi)!;
        string o = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit(30_000);
        return (p.ExitCode, o);
    }
}
