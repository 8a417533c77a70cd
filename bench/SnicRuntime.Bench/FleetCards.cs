using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json;
using SnicRuntime.TestKit;

namespace SnicRuntime.Bench;

/// <summary>
/// Light emulated cards for the fleet benchmark: real snic-firmware processes (one worker, a small
/// flow table, ten generated packets a second, idle threads sleeping) with their agents on loopback.
/// </summary>
internal sealed class FleetCards : IAsyncDisposable
{
    public const string Token = "fleet-bench-token-0123456789";
    private readonly List<Process> _processes = [];
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };

    public FleetCards(string dir, int count)
    {
        string firmware = Path.Combine(TestPaths.RepoRoot, "out", "firmware", "linux-x64", "snic-firmware");
        if (!File.Exists(firmware))
        {
            throw new FileNotFoundException($"{firmware} is not published (./firmware/publish.sh linux-x64)");
        }

        string tokenFile = Path.Combine(dir, "card-token");
        File.WriteAllText(tokenFile, Token);
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        int[] ports = LoopbackPorts.Free(count);
        for (int i = 0; i < count; i++)
        {
            int port = ports[i];
            Addresses.Add(new Uri($"http://127.0.0.1:{port}/"));
            var start = new ProcessStartInfo(firmware,
                $"--agent {port} --agent-token-file {tokenFile} --workers 1 --flow-capacity 4096 --flows 10 --rate 10 --idle-sleep-ms 20 --seconds 3600 --plan-wait 3600")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = TestPaths.RepoRoot,
            };
            Process p = Process.Start(start)!;
            string? logs = Environment.GetEnvironmentVariable("SNIC_FLEET_LOGS"); // kept for when a case fails
            if (logs is not null)
            {
                Directory.CreateDirectory(logs);
                var log = new StreamWriter(Path.Combine(logs, $"card{i}.log")) { AutoFlush = true };
                p.OutputDataReceived += (_, e) => { lock (log) { log.WriteLine(e.Data); } };
                p.ErrorDataReceived += (_, e) => { lock (log) { log.WriteLine(e.Data); } };
            }

            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            _processes.Add(p);
        }
    }

    public List<Uri> Addresses { get; } = [];

    /// <summary>The card's running plan: generation, content digest, installs since start; null when it does not answer.</summary>
    public async Task<(long Generation, string Digest, long Installs)?> Plan(int card)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(await _http.GetStringAsync(new Uri(Addresses[card], "/v1/plan")));
            JsonElement r = doc.RootElement;
            return (r.GetProperty("generation").GetInt64(), r.TryGetProperty("digest", out JsonElement d) ? d.GetString() ?? "" : "",
                r.TryGetProperty("installs", out JsonElement n) ? n.GetInt64() : 0);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException)
        {
            return null;
        }
    }

    public async Task WaitAllAnswer(TimeSpan wait)
    {
        var timer = Stopwatch.StartNew();
        for (int i = 0; i < Addresses.Count; i++)
        {
            while (await Plan(i) is null)
            {
                if (timer.Elapsed > wait)
                {
                    throw new TimeoutException($"card {i} ({Addresses[i]}) did not answer in {wait.TotalSeconds} s");
                }

                await Task.Delay(50);
            }
        }
    }


    public ValueTask DisposeAsync()
    {
        foreach (Process p in _processes.Where(p => !p.HasExited))
        {
            p.Kill();
            p.WaitForExit();
        }

        _http.Dispose();
        return ValueTask.CompletedTask;
    }
}
