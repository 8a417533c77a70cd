using SnicRuntime.Contracts.Agent;
using SnicRuntime.Firmware.Card;
using SnicRuntime.TestKit;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using SnicRuntime.Firmware.Agent;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal.Board;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Agent;

/// <summary>The card agent over mutual TLS: only callers with a certificate from the management plane's authority get in.</summary>
public sealed class CardAgentTlsTests : IAsyncLifetime
{
    private readonly X509Certificate2 _authority = AgentCertificates.CreateAuthority("snic test management plane");
    private Dataplane _dp = null!;
    private CardAgent _agent = null!;

    public async Task InitializeAsync()
    {
        BoardDefinition board = BoardLoader.Load(Path.Combine(TestPaths.BoardsDirectory, "emulated", "emulated.json"));
        var store = new PolicyStore(board.Ports.Count);
        _dp = Dataplane.Create(board, new DataplaneOptions { Stage = StageKind.Policy, Policy = store, FlowsPerWorker = 1024 });
        var tls = new AgentTls(AgentCertificates.Issue(_authority, "card0", server: true), _authority);
        _agent = await CardAgent.StartAsync(_dp, store, token: null, new IPEndPoint(IPAddress.Loopback, 0), tls: tls);
    }

    public async Task DisposeAsync()
    {
        await _agent.DisposeAsync();
        _dp.Dispose();
    }

    private HttpClient Client(X509Certificate2? clientCertificate, X509Certificate2 trusted)
    {
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = clientCertificate is null ? null : new X509CertificateCollection { clientCertificate },
                RemoteCertificateValidationCallback = (_, cert, _, _) => AgentCertificates.ChainsTo(cert as X509Certificate2 ?? (cert is null ? null : X509CertificateLoader.LoadCertificate(cert.GetRawCertData())), trusted),
            },
        };
        return new HttpClient(handler) { BaseAddress = _agent.Address };
    }

    [Fact]
    public async Task A_certificate_from_the_authority_gets_in()
    {
        using HttpClient http = Client(AgentCertificates.Issue(_authority, "snicctl", server: false), _authority);
        HttpResponseMessage r = await http.GetAsync("/v1/health");
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("https", _agent.Address.Scheme);
    }

    [Fact]
    public async Task No_certificate_is_refused_with_a_reason_and_counted()
    {
        using HttpClient http = Client(null, _authority);
        HttpResponseMessage r = await http.GetAsync("/v1/health");
        Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
        Assert.Contains("missing client certificate", await r.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(1, _agent.AuthFailures);
    }

    [Fact]
    public async Task A_certificate_from_another_authority_fails_the_handshake_and_is_counted()
    {
        X509Certificate2 stranger = AgentCertificates.CreateAuthority("someone else");
        using HttpClient http = Client(AgentCertificates.Issue(stranger, "intruder", server: false), _authority);
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync("/v1/health"));
        Assert.True(_agent.AuthFailures >= 1);
    }

    [Fact]
    public async Task The_client_refuses_a_card_whose_certificate_is_not_from_the_authority()
    {
        X509Certificate2 other = AgentCertificates.CreateAuthority("other");
        using HttpClient http = Client(AgentCertificates.Issue(_authority, "snicctl", server: false), other);
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync("/v1/health"));
    }

    [Fact]
    public void Certificates_survive_a_round_trip_through_pem_files()
    {
        string dir = Directory.CreateTempSubdirectory("snic-pem-").FullName;
        try
        {
            X509Certificate2 card = AgentCertificates.Issue(_authority, "card1", server: true);
            AgentCertificates.Save(card, Path.Combine(dir, "card.pem"));
            AgentCertificates.Save(_authority, Path.Combine(dir, "ca.pem"));
            X509Certificate2 loaded = AgentCertificates.Load(Path.Combine(dir, "card.pem"));
            Assert.True(loaded.HasPrivateKey);
            Assert.True(AgentCertificates.ChainsTo(loaded, AgentCertificates.Load(Path.Combine(dir, "ca.pem"))));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
