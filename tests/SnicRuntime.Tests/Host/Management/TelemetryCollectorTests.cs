using SnicRuntime.Firmware.Card;
using SnicRuntime.TestKit;
using System.Net;
using SnicRuntime.Firmware.Agent;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Board;
using SnicRuntime.Management;
using SnicRuntime.Tests.Firmware.Pipeline;
using Xunit;

namespace SnicRuntime.Tests.Host.Management;

/// <summary>The management plane's telemetry: collected from a real card agent, derived, served as Prometheus text.</summary>
public sealed class TelemetryCollectorTests : IAsyncLifetime
{
    private const string Token = "telemetry-test-token-01234";
    private readonly string _dir = Directory.CreateTempSubdirectory("snic-telemetry-").FullName;
    private Dataplane _dp = null!;
    private CardAgent _agent = null!;
    private ManagementStore _state = null!;

    public async Task InitializeAsync()
    {
        BoardDefinition board = BoardLoader.Load(Path.Combine(TestPaths.BoardsDirectory, "emulated", "emulated.json"));
        var store = new PolicyStore(board.Ports.Count);
        Assert.True(store.Apply(PipelineHarness.PlanText("full.json")).Accepted);
        _dp = Dataplane.Create(board, new DataplaneOptions { Stage = StageKind.Policy, Policy = store, FlowsPerWorker = 1024 });
        _agent = await CardAgent.StartAsync(_dp, store, Token, new IPEndPoint(IPAddress.Loopback, 0));
        _state = new ManagementStore(Path.Combine(_dir, "state.db"));
        _state.AddCard(new Card("card0", _agent.Address, Token, "emulated", "standalone", DateTimeOffset.UtcNow));
        _state.AddCard(new Card("gone", new Uri("http://127.0.0.1:1/"), Token, null, "standalone", DateTimeOffset.UtcNow));
    }

    public async Task DisposeAsync()
    {
        await _agent.DisposeAsync();
        _dp.Dispose();
        _state.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private void Send(int packets, string vip = "172.16.1.100")
    {
        var burst = new PacketRef[packets];
        Assert.Equal(packets, _dp.Pool.AllocBulk(burst));
        for (int i = 0; i < packets; i++)
        {
            byte[] f = Overlay.FromVm("10.1.2.50", sport: (ushort)(3000 + i), vip: vip);
            burst[i].SetLength(f.Length);
            f.CopyTo(burst[i].Data);
        }

        _dp.EmulatedPort(0).Inject(burst);
        foreach (IWorker w in _dp.Workers)
        {
            w.PollOnce();
        }

        Span<PacketRef> drained = new PacketRef[64];
        int n;
        while ((n = _dp.EmulatedPort(0).Drain(drained)) > 0)
        {
            _dp.Pool.FreeBulk(drained[..n]);
        }
    }

    [Fact]
    public async Task Rates_and_drop_ratios_are_derived_between_collections_and_served_as_prometheus_text()
    {
        var collector = new TelemetryCollector(_state);
        await collector.Collect();
        Send(24);
        Send(8, vip: "172.16.1.99"); // dropped NotToVip
        await Task.Delay(50);
        await collector.Collect();

        CardFigures card = collector.Latest.Single(f => f.Card == "card0");
        Assert.True(card.Up);
        Assert.Equal(1, card.Generation);
        Assert.True(card.RxPpsByWorker.Values.Sum() > 0);
        Assert.Equal(0.25, card.DropRatio, 3);
        Assert.Equal(8, card.DropsByReason["NotToVip"]);
        CardFigures gone = collector.Latest.Single(f => f.Card == "gone");
        Assert.False(gone.Up);
        Assert.Contains("card 'gone'", gone.Problem, StringComparison.Ordinal);

        await using TelemetryEndpoint endpoint = await TelemetryEndpoint.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), collector);
        using var http = new HttpClient();
        string text = await http.GetStringAsync(new Uri(endpoint.Address, "/metrics"));
        Assert.Contains("snic_card_up{card=\"card0\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("snic_card_up{card=\"gone\"} 0", text, StringComparison.Ordinal);
        Assert.Contains("snic_card_drop_ratio{card=\"card0\"} 0.25", text, StringComparison.Ordinal);
        Assert.Contains("snic_card_drops_total{card=\"card0\",reason=\"NotToVip\"} 8", text, StringComparison.Ordinal);
        Assert.All(text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('#')),
            l => Assert.Matches(@"^[a-z_]+\{[a-z_]+=""[^""]*""(,[a-z_]+=""[^""]*"")*\} [0-9.eE+-]+$", l));
    }

    [Fact]
    public async Task Cards_of_the_fleet_s_inventory_are_collected_and_a_store_without_quorum_costs_only_those()
    {
        using var hostB = new ManagementStore(Path.Combine(_dir, "host-b.db")); // a host that added no card
        Card fromFleet = _state.Cards().Single(c => c.Name == "card0");
        bool storeUp = true;
        var collector = new TelemetryCollector(hostB)
        {
            FleetCards = _ => storeUp ? Task.FromResult<IReadOnlyList<Card>>([fromFleet]) : throw new SnicRuntime.Management.Store.StoreException("no quorum (test)"),
        };
        await collector.Collect();
        Assert.True(Assert.Single(collector.Latest).Up);

        storeUp = false;
        await collector.Collect(); // no exception: this host's own cards (none here) are collected
        Assert.Empty(collector.Latest);

        // A name in both: this host's entry is the one used.
        hostB.AddCard(fromFleet with { Address = new Uri("http://127.0.0.1:1/") });
        storeUp = true;
        await collector.Collect();
        Assert.False(Assert.Single(collector.Latest).Up);
    }

    [Fact]
    public async Task Efficiency_figures_come_from_the_workers_busy_time_latency_histogram_and_queues()
    {
        var collector = new TelemetryCollector(_state);
        await collector.Collect();
        Send(32);
        Send(16);
        await collector.Collect();
        CardFigures card = collector.Latest.Single(f => f.Card == "card0");
        CardSample s = card.Sample!;

        // Every received packet is in exactly one latency bucket; the histogram's count is rx.
        Assert.Equal(48, s.Workers.Sum(w => w.LatencyBuckets.Sum()));
        Assert.Equal(s.RxTotal, s.Workers.Sum(w => w.LatencyBuckets.Sum()));
        Assert.Contains(s.Workers, w => w.RxPackets > 0);
        foreach (WorkerSample busy in s.Workers.Where(w => w.RxPackets > 0))
        {
            Assert.True(busy.BusyNs > 0 && busy.LatencySumNs >= busy.BusyNs, $"busy {busy.BusyNs} ns, latency sum {busy.LatencySumNs} ns");
            WorkerFigures w = card.Workers.Single(x => x.Id == busy.Id);
            if (s.CpuMhz > 0)
            {
                // Cycles per packet is busy time × clock over the interval's packets, exactly up to
                // the order of the floating-point operations (a tolerance, not decimal rounding:
                // two values 4e-13 apart can round to different sixth decimals).
                Assert.Equal(busy.BusyNs * s.CpuMhz / 1000 / busy.RxPackets, w.CyclesPerPacket, 1e-6);
            }

            Assert.True(w.LatencyP50Ns > 0 && w.LatencyP99Ns >= w.LatencyP50Ns);
        }

        // The emulated port reports its rx queues' depth (drained by the poll: 0 each).
        Assert.Equal(_dp.Ports.Sum(p => p.QueueCount), s.Queues.Count);
        Assert.All(s.Queues, q => Assert.Equal(0, q.Depth));

        string text = collector.RenderPrometheus();
        foreach (WorkerSample x in s.Workers)
        {
            long rx = x.RxPackets;
            Assert.Contains($"snic_worker_burst_latency_seconds_count{{card=\"card0\",worker=\"{x.Id}\"}} {rx}\n", text, StringComparison.Ordinal);
            Assert.Contains($"snic_worker_burst_latency_seconds_bucket{{card=\"card0\",worker=\"{x.Id}\",le=\"+Inf\"}} {rx}\n", text, StringComparison.Ordinal);
        }

        Assert.Contains("snic_port_rx_queue_depth_packets{card=\"card0\",port=", text, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Promtool_accepts_the_prometheus_text()
    {
        string? promtool = TestPaths.FindProgram("promtool");
        Skip.If(promtool is null, "promtool is not installed (apt-get install prometheus); ./test.sh installs it");
        var collector = new TelemetryCollector(_state);
        await collector.Collect();
        Send(24);
        Send(8, vip: "172.16.1.99");
        await collector.Collect();

        var psi = new System.Diagnostics.ProcessStartInfo(promtool!, "check metrics") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = System.Diagnostics.Process.Start(psi)!;
        await p.StandardInput.WriteAsync(collector.RenderPrometheus());
        p.StandardInput.Close();
        string output = await p.StandardOutput.ReadToEndAsync() + await p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(30_000));
        // Exit 0: parsed and lint-clean (1 = parse error, 3 = lint problems).
        Assert.True(p.ExitCode == 0, $"promtool exit {p.ExitCode}: {output}");
    }

    [Fact]
    public async Task Otlp_pushes_the_same_figures_to_an_otlp_http_receiver()
    {
        // A minimal OTLP/HTTP receiver: accepts POST /v1/metrics and keeps the protobuf bodies.
        using var listener = new HttpListener();
        int port = FreePort();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        var bodies = new System.Collections.Concurrent.ConcurrentQueue<(string Path, string Type, byte[] Body)>();
        Task receiver = Task.Run(async () =>
        {
            while (listener.IsListening)
            {
                HttpListenerContext ctx;
                try
                {
                    ctx = await listener.GetContextAsync();
                }
                catch (HttpListenerException)
                {
                    return;
                }
                catch (ObjectDisposedException)
                {
                    return;
                }

                using var buffer = new MemoryStream();
                await ctx.Request.InputStream.CopyToAsync(buffer);
                bodies.Enqueue((ctx.Request.Url!.AbsolutePath, ctx.Request.ContentType ?? "", buffer.ToArray()));
                ctx.Response.StatusCode = 200;
                ctx.Response.Close();
            }
        });

        var collector = new TelemetryCollector(_state);
        using (var otlp = new TelemetryOtlp(collector, new Uri($"http://127.0.0.1:{port}/v1/metrics"), TimeSpan.FromSeconds(30)))
        {
            await collector.Collect();
            Send(16);
            await collector.Collect();
            Assert.True(otlp.Flush());
        }

        listener.Stop();
        await receiver;
        Assert.NotEmpty(bodies);
        (string path, string type, byte[] body) = bodies.First();
        Assert.Equal("/v1/metrics", path);
        Assert.Equal("application/x-protobuf", type);
        // Protobuf keeps strings as UTF-8 bytes: the metric names and the card label are in the payload.
        string raw = System.Text.Encoding.UTF8.GetString(body);
        foreach (string name in new[] { "snic.card.up", "snic.worker.rx.rate", "snic.worker.cycles_per_packet", "snic.port.rx.queue.depth", "card0" })
        {
            Assert.Contains(name, raw, StringComparison.Ordinal);
        }
    }

    private static int FreePort()
    {
        using var l = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
