using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace SnicRuntime.Management;

/// <summary>A card agent's answer: the HTTP status and the JSON body (or why there is none).</summary>
public sealed record AgentReply(int Status, JsonElement? Body, string? Failure, bool ConnectionRefused = false)
{
    public bool Ok => Status is >= 200 and < 300;

    /// <summary>The agent's own reason (its "error" field), or the transport failure.</summary>
    public string Reason => Failure ?? (Body is { } b && b.TryGetProperty("error", out JsonElement e) ? e.GetString() ?? "" : $"HTTP {Status}");
}

/// <summary>
/// Talks to one card's agent (token-authenticated HTTP/JSON). Never throws for a card that is down
/// or answers badly: the reply says what happened, so callers can name the card and the cause.
/// </summary>
public sealed class AgentClient(Card card, TimeSpan? timeout = null, ManagementIdentity? identity = null) : IDisposable
{
    private readonly HttpClient _http = new(Handler(identity))
    {
        BaseAddress = card.Address,
        Timeout = timeout ?? TimeSpan.FromSeconds(30),
        DefaultRequestHeaders = { Authorization = card.Token.Length == 0 ? null : new AuthenticationHeaderValue("Bearer", card.Token) },
    };

    public Card Card { get; } = card;

    /// <summary>Plain HTTP, or mutual TLS with the management plane's client certificate, trusting only its authority.</summary>
    private static SocketsHttpHandler Handler(ManagementIdentity? identity)
    {
        // Connect covers the TLS handshake too; a loaded card (workers spinning on shared cores)
        // can take seconds to accept, and a slow card is not a down card.
        var handler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10) };
        if (identity is not null)
        {
            handler.SslOptions = new System.Net.Security.SslClientAuthenticationOptions
            {
                ClientCertificates = [identity.Client],
                RemoteCertificateValidationCallback = (_, cert, _, _) => cert is not null &&
                    SnicRuntime.Contracts.Agent.AgentCertificates.ChainsTo(System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(cert.GetRawCertData()), identity.Authority),
            };
        }

        return handler;
    }

    public Task<AgentReply> Get(string path, CancellationToken cancel = default) => Send(HttpMethod.Get, path, null, cancel);

    public Task<AgentReply> ApplyPlan(string planJson, CancellationToken cancel = default) => Send(HttpMethod.Put, "/v1/plan", planJson, cancel);

    /// <summary>Any method with an optional JSON body (HA commands use PUT, POST and DELETE).</summary>
    public Task<AgentReply> Send(HttpMethod method, string path, string? body, CancellationToken cancel = default) =>
        SendContent(method, path, body is null ? null : new StringContent(body, Encoding.UTF8, "application/json"), cancel);

    /// <summary>Uploads <paramref name="content"/> (an image), reporting bytes sent to <paramref name="progress"/>.</summary>
    public Task<AgentReply> Upload(string path, Stream content, IProgress<long>? progress = null, CancellationToken cancel = default) =>
        SendContent(HttpMethod.Put, path, new ProgressContent(content, progress), cancel);

    private async Task<AgentReply> SendContent(HttpMethod method, string path, HttpContent? content, CancellationToken cancel)
    {
        try
        {
            using var request = new HttpRequestMessage(method, path);
            request.Content = content;

            using HttpResponseMessage response = await _http.SendAsync(request, cancel).ConfigureAwait(false);
            string text = await response.Content.ReadAsStringAsync(cancel).ConfigureAwait(false);
            JsonElement? json = null;
            try
            {
                json = text.Length == 0 ? null : JsonDocument.Parse(text).RootElement.Clone();
            }
            catch (JsonException)
            {
                return new AgentReply((int)response.StatusCode, null, $"card '{Card.Name}' answered HTTP {(int)response.StatusCode} with a body that is not JSON");
            }

            return new AgentReply((int)response.StatusCode, json, null);
        }
        catch (HttpRequestException e)
        {
            // Refused: nothing listens at the card's address (its process is gone), as opposed to
            // a card that is slow or cut off — the HA witness treats the two differently.
            bool refused = false;
            for (Exception? inner = e; inner is not null; inner = inner.InnerException)
            {
                refused |= inner is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionRefused };
            }

            return new AgentReply(0, null, $"card '{Card.Name}' at {Card.Address} is unreachable: {e.Message}", refused);
        }
        catch (TaskCanceledException) when (!cancel.IsCancellationRequested)
        {
            return new AgentReply(0, null, $"card '{Card.Name}' at {Card.Address} did not answer in {_http.Timeout.TotalSeconds:F0} s");
        }
    }

    public void Dispose() => _http.Dispose();

    /// <summary>A stream body sent in 256 KiB pieces, counting what has gone out.</summary>
    private sealed class ProgressContent(Stream source, IProgress<long>? progress) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            byte[] buffer = new byte[256 * 1024];
            long sent = 0;
            int n;
            while ((n = await source.ReadAsync(buffer).ConfigureAwait(false)) > 0)
            {
                await stream.WriteAsync(buffer.AsMemory(0, n)).ConfigureAwait(false);
                sent += n;
                progress?.Report(sent);
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = source.CanSeek ? source.Length - source.Position : -1;
            return source.CanSeek;
        }
    }
}
