/*
 * Java's built-in NTLM (HttpURLConnection, OpenJDK 17): GET a URL as USER with PASSWORD and print the status line
 * and the body. Java picks the strongest scheme offered (Negotiate > Digest > NTLM > Basic), so against the demo
 * (NTLM, Basic) it answers NTLM by itself. Used by test/interop/ntlm-clients.test.ts as `java NtlmClient.java URL USER PASSWORD`.
 */
import java.io.InputStream;
import java.net.Authenticator;
import java.net.HttpURLConnection;
import java.net.PasswordAuthentication;
import java.net.URL;
import java.nio.charset.StandardCharsets;

public class NtlmClient {
  public static void main(String[] args) throws Exception {
    final String user = args[1];
    final char[] password = args[2].toCharArray();
    Authenticator.setDefault(new Authenticator() {
      @Override
      protected PasswordAuthentication getPasswordAuthentication() {
        return new PasswordAuthentication(user, password);
      }
    });
    HttpURLConnection connection = (HttpURLConnection) new URL(args[0]).openConnection();
    connection.setConnectTimeout(10_000);
    connection.setReadTimeout(10_000);
    int status = connection.getResponseCode();
    InputStream in = status >= 400 ? connection.getErrorStream() : connection.getInputStream();
    String body = in == null ? "" : new String(in.readAllBytes(), StandardCharsets.UTF_8);
    System.out.println(status);
    System.out.print(body);
  }
}
